# Unmodified binaries (decisions5 "--bind-shim"): clusterd preloads
# clusterd-shim.so (CLUSTERD_SHIM: the build tree's), so a worker's own
# bind() to a clustered address takes the inherited socket.  The seed's
# worker code, unchanged (listen(PORT), no fd), answers from 4 pids:
#	clusterd --bind-shim -n 4 -l PORT -- node server.js
# Other binds (other ports, another socket type) are untouched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::IP;
use Clusterd;

my $SHIM = "$TOP_BUILDDIR/src/clusterd-shim.so";
my $NODE = '/usr/bin/node';
plan(skip_all => "$SHIM is not built") unless -f $SHIM;
my %shim_env = (CLUSTERD_SHIM => $SHIM);

# The seed's worker branch, word for word, with its port made free.  The
# seed is an ES module (import): package.json says so, as in its project.
my $port = free_port();
my $app = "$TMPDIR/app";
mkdir($app);
write_file("$app/package.json", qq({ "type": "module" }\n));
write_file("$app/server.js", <<"END");
import http from "node:http";
import process from "node:process";

  http
    .createServer((req, res) => {
      res.writeHead(200);
      
      res.end("hello world");
    })
    .listen($port);
    
  console.log(`woker \${process.pid}started`);
END

sub hexport { sprintf('%04X', $_[0]) }

# Make one request on a kept-alive connection; while it is open, find which
# of @$pids holds the accepted socket (/proc/net/tcp* and /proc/PID/fd).
sub answering_pid {
	my ($port, $pids) = @_;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp', Timeout => 3) or return undef;
	syswrite($s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
	my $buf = '';
	my $sel = IO::Select->new($s);
	my $deadline = time() + timeout(3);
	while ($buf !~ /hello world/ && time() < $deadline
	    && $sel->can_read($deadline - time())) {
		last unless sysread($s, $buf, 4096, length $buf);
	}
	return undef unless $buf =~ m{^HTTP/1\.1 200 OK\r\n.*hello world}s;
	my ($lp, $rp) = (hexport($port), hexport($s->sockport));
	my $ino;
	for my $f ('/proc/net/tcp6', '/proc/net/tcp') {
		for (split(/\n/, slurp($f) // '')) {
			$ino = $1 if /^\s*\d+: [0-9A-F]+:$lp [0-9A-F]+:$rp 01(?:\s+\S+){5}\s+(\d+) /;
		}
	}
	return undef unless $ino;
	for my $pid (@$pids) {
		my $fds = proc_fds($pid) or next;
		return $pid if grep { $_ eq "socket:[$ino]" } values %$fds;
	}
	return undef;
}

SKIP: {
	skip("$NODE is needed (Debian package nodejs)", 12) unless -x $NODE;

	# 1. The recipe.
	my $c = start_clusterd(args => ['--bind-shim', '-n', 4, '-l', $port,
	    '--', $NODE, 'server.js'], dir => $app, env => \%shim_env);
	my @w = wait_workers($c->pid, 4, 10, 'node');
	is(scalar(@w), 4, 'four node workers');
	ok(wait_for(sub { my @l = $c->log_text =~ /^woker \d+started$/mg; @l == 4 },
	    10, 'four "woker PIDstarted" lines'), 'all four print the seed\'s start line');
	for my $pid (@w) {
		is((proc_env($pid) // {})->{LD_PRELOAD}, $SHIM,
		    "$pid: LD_PRELOAD is the shim");
	}
	my $seen = answers_from_all(\@w, sub { answering_pid($port, \@w) });
	is_deeply([sort { $a <=> $b } keys %$seen], \@w,
	    'the unmodified seed worker answers from all 4 pids');
	ok(!$c->log_matches(qr/EADDRINUSE|exited with status/),
	    'no EADDRINUSE, no worker died');
	# Each node's listening fd is the very socket clusterd bound.
	my %lino;
	for my $pid (@w) {
		my $fds = proc_fds($pid) // {};
		$lino{$fds->{3} // ''}++;
	}
	is(scalar(keys %lino), 1, 'one shared listening socket');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');

	# Without the shim the same code fails: it is the shim that makes it work.
	my $conf = write_file("$TMPDIR/giveup.conf", "[clusterd]\ngive_up_after = 2\n");
	$c = start_clusterd(args => ['-c', $conf, '-n', 1, '-l', $port, '--',
	    $NODE, 'server.js'], dir => $app, env => \%shim_env);
	is(wait_exit($c, 10), 3, 'without --bind-shim: EADDRINUSE, clusterd gives up');
	like($c->log_text, qr/EADDRINUSE/, 'node says EADDRINUSE');

	# bind_shim = yes in the config file does the same.
	$conf = write_file("$TMPDIR/shim.conf",
	    "[clusterd]\nbind_shim = yes\nworkers = 2\n[socket:http]\nlisten = :$port\n");
	$c = start_clusterd(args => ['-c', $conf, '--', $NODE, 'server.js'],
	    dir => $app, env => \%shim_env);
	@w = wait_workers($c->pid, 2, 10, 'node');
	$seen = answers_from_all(\@w, sub { answering_pid($port, \@w) });
	is_deeply([sort { $a <=> $b } keys %$seen], \@w,
	    'bind_shim = yes: both workers answer');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

# 2. A python worker under the shim: its bind to the clustered port (as
# 0.0.0.0, onto clusterd's dual-stack [::]) takes the shared socket; its
# binds to another port and a UDP bind to the same port number are its own.
my ($o1, $o2) = (free_port(), free_port());
my $py = write_file("$TMPDIR/binder.py", <<'END');
import os, select, socket, sys
port = int(sys.argv[1])
other = int(sys.argv[2].split(",")[int(os.environ["CLUSTERD_WORKER_ID"])])
shared = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
shared.bind(("0.0.0.0", port))
shared.listen(16)
shared.setblocking(False)       # both workers wake for each connection
own = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
own.bind(("127.0.0.1", other))
own.listen(16)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if os.environ["CLUSTERD_WORKER_ID"] == "0":     # one UDP socket on the port
    udp.bind(("127.0.0.1", port))
# One write(2) per line: the two workers share clusterd's stdout.
os.write(1, b"binder %d ready: shared fd %d, own fd %d, udp fd %d\n" % (
    os.getpid(), shared.fileno(), own.fileno(), udp.fileno()))
while True:
    for s in select.select([shared, own, udp], [], [])[0]:
        what = "shared" if s is shared else "own" if s is own else "udp"
        if s is udp:
            data, peer = udp.recvfrom(512)
            udp.sendto(b"udp %d\n" % os.getpid(), peer)
            continue
        try:
            conn, _ = s.accept()
        except BlockingIOError:     # the other worker took it
            continue
        conn.setblocking(True)
        conn.recv(4096)
        body = b"%s %d\n" % (what.encode(), os.getpid())
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        conn.close()
END
SKIP: {
	skip("$PYTHON3 is needed", 9) unless -x $PYTHON3;
	$port = free_port();
	my $c = start_clusterd(args => ['--bind-shim', '-n', 2, '-l', $port,
	    '--', $PYTHON3, $py, $port, "$o1,$o2"], env => \%shim_env);
	ok($c->wait_log(qr/^binder \d+ ready.*\n(?s:.*)^binder \d+ ready/m, 10),
	    'both python workers bound all three');
	my @w = wait_workers($c->pid, 2, 5);
	my $seen = answers_from_all(\@w, sub {
		(http_get('127.0.0.1', $port) // '') =~ /^shared (\d+)\n\z/ ? $1 : undef;
	});
	is_deeply([sort { $a <=> $b } keys %$seen], \@w,
	    'bind("0.0.0.0", PORT) took the shared socket: both answer on it');
	my %ids = map { ((proc_env($_) // {})->{CLUSTERD_WORKER_ID} => $_) } @w;
	my ($w0, $w1) = ($ids{0} // 'none', $ids{1} // 'none');
	like(http_get('127.0.0.1', $o1) // '', qr/^own $w0\n\z/,
	    'worker 0\'s bind to an unrelated port is its own');
	like(http_get('127.0.0.1', $o2) // '', qr/^own $w1\n\z/,
	    'worker 1\'s too');
	like(udp_get('127.0.0.1', $port) // '', qr/^udp $w0\n\z/,
	    'worker 0\'s UDP bind to the same port number is a real UDP socket');
	my %own;
	for my $pid (@w) {
		my $fds = proc_fds($pid) // {};
		my ($sf, $of, $uf) = $c->log_text =~ /^binder $pid ready: shared fd (\d+), own fd (\d+), udp fd (\d+)$/m;
		is($fds->{$sf // -1} // 'none', $fds->{3} // 'no fd 3',
		    "$pid: its own fd for the shared bind is clusterd's socket");
		$own{$fds->{$of // -1} // ''}++;
	}
	is(scalar(keys %own), 2, 'the unrelated sockets are two different ones');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');

	# Without --bind-shim: no LD_PRELOAD at all.
	$c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '--', 'sleep',
	    '1000'], env => \%shim_env);
	@w = wait_workers($c->pid, 1, 5, 'sleep');
	ok(!exists((proc_env($w[0] // 0) // {})->{LD_PRELOAD}),
	    'without --bind-shim: no LD_PRELOAD');
	kill TERM => $c->pid;
	wait_exit($c);
}

# 3. The program's listen() on clusterd's socket keeps clusterd's backlog
# (node asks for 511), and a bind to a UNIX path matches however the
# program counts the address's length (node: the whole sockaddr_un; the
# kernel's getsockname: the path and its NUL).
SKIP: {
	skip("$NODE and ss (iproute2) are needed", 3)
	    unless -x $NODE && -x '/bin/ss';
	my $bport = free_port();
	(my $src = slurp("$app/server.js")) =~ s/\.listen\(\d+\)/.listen($bport)/;
	write_file("$app/backlog.js", $src);
	my $conf = write_file("$TMPDIR/backlog.conf", "[clusterd]\nbind_shim = yes\n"
	    . "workers = 2\n[socket:http]\nlisten = :$bport\nbacklog = 77\n");
	my $c = start_clusterd(args => ['-c', $conf, '--', $NODE, 'backlog.js'],
	    dir => $app, env => \%shim_env);
	my @w = wait_workers($c->pid, 2, 10, 'node');
	ok(wait_for(sub { my @l = $c->log_text =~ /^woker \d+started$/mg; @l == 2 },
	    10), 'both node workers listened');
	my $ss = `/bin/ss -ltnH 'sport = :$bport'`;
	my @q = map { (split ' ')[2] } grep { /LISTEN/ } split(/\n/, $ss);
	is("@q", '77', 'the shared socket keeps backlog 77 after node\'s listen(511)')
	    or diag($ss);
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}
SKIP: {
	skip("$NODE is needed", 3) unless -x $NODE;
	my $path = "$TMPDIR/shim-unix.sock";
	# libuv binds with the whole sockaddr_un as the length.
	write_file("$app/unix.cjs", <<'END');
const http = require("node:http");
http.createServer((req, res) => res.end(`${process.pid}\n`))
  .on("error", (e) => { console.log(`error ${e.code}`); process.exit(1); })
  .listen(process.argv[2]);
END
	my $c = start_clusterd(args => ['--bind-shim', '-n', 2, '-l', "unix:$path",
	    '--', $NODE, 'unix.cjs', $path], dir => $app, env => \%shim_env);
	my @w = wait_workers($c->pid, 2, 10, 'node');
	my $seen = answers_from_all(\@w, sub {
		(http_get_unix($path, '/') // '') =~ /^(\d+)\n\z/ ? $1 : undef;
	});
	is_deeply([sort { $a <=> $b } keys %$seen], \@w,
	    'node\'s bind to the UNIX path (length: all of sockaddr_un) takes the shared socket: both answer');
	ok(!$c->log_matches(qr/EADDRINUSE|exited with status/),
	    'no EADDRINUSE, no worker died');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

# Without CLUSTERD_SHIM: the build tree's clusterd preloads the build
# tree's shim (no make install needed); a clusterd elsewhere with no shim
# installed refuses --bind-shim and says how to get one.
SKIP: {
	skip('CLUSTERD names another binary', 4)
	    if $CLUSTERD ne "$TOP_BUILDDIR/src/clusterd";
	my $c = start_clusterd(args => ['--bind-shim', '-n', 1, '-l',
	    '127.0.0.1:0', '--', 'sleep', '1000'], env => { CLUSTERD_SHIM => undef });
	my ($w) = wait_workers($c->pid, 1, 5, 'sleep');
	my $pre = (proc_env($w // 0) // {})->{LD_PRELOAD} // '';
	my @a = stat($pre);
	my @b = stat($SHIM);
	ok(@a && "$a[0] $a[1]" eq "$b[0] $b[1]",
	    "uninstalled clusterd --bind-shim preloads the build tree's shim ($pre)");
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');

	my ($copy) = public_copies($CLUSTERD);
	my ($code, $out, $err) = run_clusterd(binary => $copy,
	    args => ['--bind-shim', '-n', 1, '-l', '127.0.0.1:0', '--check',
	    '--', 'true'], env => { CLUSTERD_SHIM => undef });
	skip("a shim is installed: $out", 2) if $code == 0;
	is($code, 2, 'a clusterd outside the build tree, no shim installed: exit 2');
	like($err, qr{^clusterd: bind shim /\S+/clusterd-shim\.so: No such file or directory \(run make install, or set CLUSTERD_SHIM to the library's path\)$}m,
	    'the message names the installed path and both fixes') or diag($err);
}

done_testing();
