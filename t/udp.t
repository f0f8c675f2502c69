# udp:ADDR: a datagram socket reaches the workers as such.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $uport = free_udp_port();
my $tport = free_port();
my $c = start_clusterd(args => ['-n', 2, '-l', "web=127.0.0.1:$tport",
    '-l', "dns=udp:127.0.0.1:$uport", '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: listening on udp:127\.0\.0\.1:$uport \(dns\)$/m),
    'log: listening on udp:127.0.0.1:PORT');
my @w = wait_workers($c->pid, 2, 5, 'hello');
is(scalar(@w), 2, 'two workers');

# The workers see SOCK_DGRAM on fd 4 (hello answers datagrams by SO_TYPE).
like(udp_get('127.0.0.1', $uport, 'hi') // '',
    qr/^hello world from worker \d \(pid \d+\)\n\z/, 'a datagram is answered');
like(http_get('127.0.0.1', $tport) // '', qr/^hello world/,
    'the TCP socket beside it answers');

# fd 4 is the socket in /proc/net/udp bound to $uport.
my ($ino) = (proc_fds($w[0] // 0)->{4} // '') =~ /socket:\[(\d+)\]/;
my $hex = sprintf('%04X', $uport);
ok($ino && (slurp('/proc/net/udp') // '') =~ /^\s*\d+: 0100007F:$hex .* $ino /m,
    'fd 4 is the UDP socket');
is(proc_env($w[0] // 0)->{LISTEN_FDNAMES}, 'web:dns', 'LISTEN_FDNAMES');

SKIP: {
	skip("no $PYTHON3", 2) unless -x $PYTHON3;
	my $py = write_file("$TMPDIR/type.py", <<'END');
import socket, sys, time
s = socket.socket(fileno=3)
open(sys.argv[1], "w").write("%d %d" % (s.type, s.family))
time.sleep(1000)
END
	my $conf = write_file("$TMPDIR/udp.conf", <<"END");
[socket:dns]
listen = udp:127.0.0.1:0
[program]
command = $PYTHON3 $py $TMPDIR/type.{worker}
END
	my $p = start_clusterd(args => ['-n', 1, '-c', $conf]);
	wait_for(sub { -s "$TMPDIR/type.0" }, 5, 'the python worker');
	is(slurp("$TMPDIR/type.0"), '2 2',
	    'python sees SOCK_DGRAM (2), AF_INET (2) on fd 3');
	kill TERM => $p->pid;
	is(wait_exit($p), 0, 'exit 0');
}

kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
