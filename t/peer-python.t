# A real peer takes the socket: python3-systemd's listen_fds_with_names(),
# which checks LISTEN_PID.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

plan(skip_all => "$PYTHON3 with python3-systemd is needed")
    unless -x $PYTHON3 && system($PYTHON3, '-c', 'import systemd.daemon') == 0;

my $server = write_file("$TMPDIR/server.py", <<'END');
import os, socket, sys
import systemd.daemon

fds = systemd.daemon.listen_fds_with_names()  # {fd: name}; checks LISTEN_PID
if not fds:
    sys.exit("no sockets for pid %d" % os.getpid())
fd = [f for f, name in fds.items() if name == "web"][0]
server = socket.socket(fileno=fd)
body = ("python worker %s (pid %d) fds %s\n" % (
    os.environ["CLUSTERD_WORKER_ID"], os.getpid(),
    ",".join("%d=%s" % kv for kv in sorted(fds.items())))).encode()
while True:
    conn, _ = server.accept()
    conn.recv(65536)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                 + body)
    conn.close()
END

my $port = free_port();
my $c = start_clusterd(args => ['-n', 2, '-l', "web=127.0.0.1:$port",
    '-l', "admin=unix:$TMPDIR/admin.sock", '--', $PYTHON3, $server]);
my @w = wait_workers($c->pid, 2, 5);
is(scalar(@w), 2, 'two python workers');
# Started means listening: the python workers need a moment to import.
my $seen = answers_from_all(\@w, sub {
	my $b;
	wait_for(sub { $b = http_get('127.0.0.1', $port) }, 10, 'an answer');
	return ($b // '') =~ /^python worker \d \(pid (\d+)\) fds 3=web,4=admin\n\z/
	    ? $1 : undef;
});
is_deeply([sort { $a <=> $b } keys %$seen], \@w,
    'both workers answer through listen_fds_with_names()');
ok(!$c->log_matches(qr/no sockets|Traceback/), 'no worker failed');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
