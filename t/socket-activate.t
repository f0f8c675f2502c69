# Adopting the service manager's sockets (decisions5 "Adopting sockets",
# CONTRACT §6): systemd-socket-activate in front of clusterd, as a socket
# unit would be; plus a small manager of our own for LISTEN_PIDFDID.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::IP;
use Clusterd;

my $SA = '/usr/bin/systemd-socket-activate';
plan(skip_all => "$SA is needed (Debian package systemd)") unless -x $SA;

# Start clusterd behind systemd-socket-activate, which listens on each
# ADDR and execs clusterd (same pid) on the first connection.  Returns the
# clusterd object and that first connection, with a request sent on it.
sub activate {
	my (%o) = @_;
	my @sa = map { ('-l', $_) } @{ $o{listen} };
	push(@sa, '-d') if $o{datagram};
	push(@sa, "--fdname=$o{names}") if defined $o{names};
	my $c = start_clusterd(binary => $SA,
	    args => [@sa, $CLUSTERD, @{ $o{args} }]);
	my $last = $o{listen}[-1];
	$c->wait_log(qr/^Listening on \Q$last\E as \d+\.$/m)
	    or return ($c, undef);
	my ($host, $port) = $o{listen}[0] =~ /^(.*):(\d+)$/;
	return ($c, undef) if $o{datagram};
	# The connection that makes systemd-socket-activate start clusterd.
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
	    Proto => 'tcp', Timeout => 3);
	syswrite($s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	    if $s;
	return ($c, $s);
}

sub read_answer {
	my ($s) = @_;
	return '' unless $s;
	my $buf = '';
	my $sel = IO::Select->new($s);
	my $deadline = time() + timeout(5);
	while (time() < $deadline && $sel->can_read($deadline - time())) {
		last unless sysread($s, $buf, 65536, length $buf);
	}
	return $buf;
}

sub hello_pid {
	my ($port) = @_;
	my $b = http_get('127.0.0.1', $port) // '';
	return $b =~ /^hello world from worker \d+ \(pid (\d+)\)\n\z/ ? $1 : undef;
}

# The socket inode of each TCP listener on $port (from /proc/net).
sub listener_inodes {
	my ($port) = @_;
	my $hex = sprintf('%04X', $port);
	my %ino;
	for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
		for (split(/\n/, slurp($f) // '')) {
			$ino{$1} = 1 if /^\s*\d+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A(?:\s+\S+){5}\s+(\d+) /;
		}
	}
	return keys %ino;
}

sub socket_inode {
	my ($pid, $fd) = @_;
	my $l = readlink("/proc/$pid/fd/$fd") // '';
	return $l =~ /^socket:\[(\d+)\]$/ ? $1 : undef;
}

# 1. The recipe: no -l, one socket from the manager, unnamed -> listen0.
my $port = free_port();
my ($c, $first) = activate(listen => ["127.0.0.1:$port"],
    args => ['-n', 4, '--', $HELLO]);
like(read_answer($first),
    qr{^HTTP/1\.1 200 OK\r\n.*\r\n\r\nhello world from worker \d \(pid \d+\)\n\z}s,
    'the connection that started clusterd is answered by a worker');
ok($c->wait_log(qr/^clusterd: adopted 127\.0\.0\.1:$port \(listen0\) from the service manager$/m),
    'log: adopted 127.0.0.1:PORT (listen0) from the service manager');
ok(!$c->log_matches(qr/^clusterd: listening on/m),
    'nothing bound by clusterd itself (no default :3000)');
my @w = wait_workers($c->pid, 4, 5, 'hello');
is(scalar(@w), 4, 'four hello workers');
my @lino = listener_inodes($port);
is(scalar(@lino), 1, "one listener on port $port");
for my $pid (@w) {
	my $env = proc_env($pid) // {};
	is_deeply([@$env{qw(LISTEN_FDS LISTEN_PID LISTEN_FDNAMES)}],
	    [1, $pid, 'listen0'],
	    "$pid: LISTEN_FDS=1, its own LISTEN_PID, LISTEN_FDNAMES=listen0");
	is(socket_inode($pid, 3) // '', $lino[0] // 'none',
	    "$pid: fd 3 is the manager's socket");
	ok(!defined socket_inode($pid, 4), "$pid: no fd 4");
}
my $seen = answers_from_all(\@w, sub { hello_pid($port) });
is_deeply([sort { $a <=> $b } keys %$seen], \@w, 'all four workers answer');
# A rolling restart (SIGHUP without -c) hands the adopted socket on.
kill HUP => $c->pid;
my @w2 = wait_generation($c->pid, 4, 2, 10, 'hello');
is(scalar(@w2), 4, 'SIGHUP: four workers of generation 2');
is_deeply([map { socket_inode($_, 3) // '' } @w2], [($lino[0] // 'none') x 4],
    'generation 2 has the manager\'s socket as fd 3 too');
ok(defined hello_pid($port), 'and answers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM: exit 0');

# 2. Two named sockets and no -l: both adopted, by their names.
my ($p1, $p2) = (free_port(), free_port());
($c, $first) = activate(listen => ["127.0.0.1:$p1", "127.0.0.1:$p2"],
    names => 'web:admin', args => ['-n', 2, '--', $HELLO]);
like(read_answer($first), qr/hello world from worker/,
    'two sockets: the first connection is answered');
ok($c->wait_log(qr/^clusterd: adopted 127\.0\.0\.1:$p2 \(admin\) from the service manager$/m)
    && $c->log_matches(qr/^clusterd: adopted 127\.0\.0\.1:$p1 \(web\) from the service manager$/m),
    'log: both adopted with the names from LISTEN_FDNAMES');
@w = wait_workers($c->pid, 2, 5, 'hello');
my ($i1) = listener_inodes($p1);
my ($i2) = listener_inodes($p2);
for my $pid (@w) {
	my $env = proc_env($pid) // {};
	is_deeply([@$env{qw(LISTEN_FDS LISTEN_PID LISTEN_FDNAMES)}],
	    [2, $pid, 'web:admin'], "$pid: LISTEN_FDS=2, LISTEN_FDNAMES=web:admin");
	is_deeply([socket_inode($pid, 3), socket_inode($pid, 4)],
	    [$i1, $i2], "$pid: fd 3 = web (:$p1), fd 4 = admin (:$p2)");
}
ok(defined hello_pid($p2), 'the second socket answers too');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# A name "unknown" (systemd's for an unnamed fd) is named by position.
($p1, $p2) = (free_port(), free_port());
($c, $first) = activate(listen => ["127.0.0.1:$p1", "127.0.0.1:$p2"],
    names => 'unknown:admin', args => ['-n', 1, '--', $HELLO]);
like(read_answer($first), qr/hello world from worker/, 'unknown:admin: answered');
ok($c->wait_log(qr/^clusterd: adopted 127\.0\.0\.1:$p2 \(admin\) from the service manager$/m)
    && $c->log_matches(qr/^clusterd: adopted 127\.0\.0\.1:$p1 \(listen0\) from the service manager$/m),
    'LISTEN_FDNAMES=unknown:admin: listen0 and admin');
@w = wait_workers($c->pid, 1, 5, 'hello');
is((proc_env($w[0] // 0) // {})->{LISTEN_FDNAMES}, 'listen0:admin',
    'the worker gets LISTEN_FDNAMES=listen0:admin');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 3. Configured sockets are matched by name, whatever the manager's order.
($p1, $p2) = (free_port(), free_port());
my $conf = write_file("$TMPDIR/named.conf", <<"END");
[clusterd]
workers = 2
[socket:admin]
listen = 127.0.0.1:$p2
[socket:web]
listen = 127.0.0.1:$p1
[program]
command = $HELLO
END
($c, $first) = activate(listen => ["127.0.0.1:$p1", "127.0.0.1:$p2"],
    names => 'web:admin', args => ['-c', $conf]);
like(read_answer($first), qr/hello world from worker/,
    'by name: the first connection is answered');
@w = wait_workers($c->pid, 2, 5, 'hello');
($i1) = listener_inodes($p1);
($i2) = listener_inodes($p2);
for my $pid (@w) {
	my $env = proc_env($pid) // {};
	is($env->{LISTEN_FDNAMES}, 'admin:web', "$pid: config order admin:web");
	is_deeply([socket_inode($pid, 3), socket_inode($pid, 4)], [$i2, $i1],
	    "$pid: fd 3 = the inherited admin socket, fd 4 = the inherited web one");
}
ok(!$c->log_matches(qr/^clusterd: listening on/m)
    && !$c->log_matches(qr/Address already in use/),
    'nothing bound again');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# A wildcard configured host takes the inherited 127.0.0.1 (only the port
# and family are compared then).
$p1 = free_port();
$conf = write_file("$TMPDIR/wild.conf", <<"END");
[socket:web]
listen = 0.0.0.0:$p1
[program]
command = $HELLO
END
($c, $first) = activate(listen => ["127.0.0.1:$p1"], names => 'web',
    args => ['-n', 1, '-c', $conf]);
like(read_answer($first), qr/hello world from worker/,
    'configured 0.0.0.0:PORT, inherited 127.0.0.1:PORT: adopted, answered');
ok($c->log_matches(qr/^clusterd: adopted 127\.0\.0\.1:$p1 \(web\) from the service manager$/m),
    'log: adopted 127.0.0.1:PORT (web)');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 4. No names from the manager: by position; a configured socket with no
# inherited fd is bound as usual.
($p1, $p2) = (free_port(), free_port());
($c, $first) = activate(listen => ["127.0.0.1:$p1"],
    args => ['-n', 1, '-l', "a=127.0.0.1:$p1", '-l', "b=127.0.0.1:$p2",
	'--', $HELLO]);
like(read_answer($first), qr/hello world from worker/,
    'by position: the first connection is answered');
ok($c->wait_log(qr/^clusterd: listening on 127\.0\.0\.1:$p2 \(b\)$/m),
    'the socket without an inherited fd is bound: listening on ... (b)');
ok($c->log_matches(qr/^clusterd: adopted 127\.0\.0\.1:$p1 \(a\) from the service manager$/m),
    'the inherited one is adopted as a');
@w = wait_workers($c->pid, 1, 5, 'hello');
is((proc_env($w[0] // 0) // {})->{LISTEN_FDNAMES}, 'a:b', 'LISTEN_FDNAMES=a:b');
ok(defined hello_pid($p2), 'the bound socket answers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 5. An inherited fd that no configured socket takes: warned and closed.
($p1, $p2) = (free_port(), free_port());
($c, $first) = activate(listen => ["127.0.0.1:$p1", "127.0.0.1:$p2"],
    names => 'web:extra', args => ['-n', 1, '-l', "web=127.0.0.1:$p1",
	'--', $HELLO]);
like(read_answer($first), qr/hello world from worker/,
    'unused fd: the first connection is answered');
ok($c->wait_log(qr/^clusterd: inherited fd 4 \(extra\) is not used; closing$/m),
    'log: inherited fd 4 (extra) is not used; closing');
@w = wait_workers($c->pid, 1, 5, 'hello');
my $env = proc_env($w[0] // 0) // {};
is_deeply([@$env{qw(LISTEN_FDS LISTEN_FDNAMES)}], [1, 'web'],
    'the worker gets web only');
ok(wait_for(sub { !listener_inodes($p2) }, 3, "port $p2 closed"),
    'the unused socket is closed (nobody listens on it any more)');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 6. Mismatches are errors, exit 2: another address, another type.
($p1, $p2) = (free_port(), free_port());
$conf = write_file("$TMPDIR/mismatch.conf", <<"END");
[socket:http]
listen = 127.0.0.1:$p2
[program]
command = $HELLO
END
($c, $first) = activate(listen => ["127.0.0.1:$p1"], names => 'http',
    args => ['-n', 1, '-c', $conf]);
is(wait_exit($c), 2, 'address mismatch: exit 2');
like($c->log_text,
    qr/^clusterd: (?:\S+:\d+: )?\[socket:http\]: inherited fd 3 is 127\.0\.0\.1:$p1 \(stream\), not 127\.0\.0\.1:$p2$/m,
    'log: [socket:http]: inherited fd 3 is 127.0.0.1:P1 (stream), not 127.0.0.1:P2');
ok(!$c->log_matches(qr/worker \d+ \(pid \d+\) started/), 'no worker started');

my $up = free_udp_port();
($c) = activate(listen => ["127.0.0.1:$up"], datagram => 1, names => 'http',
    args => ['-n', 1, '-l', "http=127.0.0.1:$up", '--', $HELLO]);
# systemd-socket-activate starts clusterd on the first datagram.
my $u = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $up,
    Proto => 'udp');
syswrite($u, 'hello') if $u;
is(wait_exit($c), 2, 'type mismatch (datagram for a stream socket): exit 2');
like($c->log_text, qr/^clusterd: .*inherited fd 3 is .*127\.0\.0\.1:$up \(datagram\), not 127\.0\.0\.1:$up$/m,
    'log: inherited fd 3 is ... (datagram), not 127.0.0.1:PORT');

# 7. LISTEN_PIDFDID (systemd 254+; systemd-socket-activate 252 does not set
# it): a manager of our own binds, sets LISTEN_PID=$$ and execs clusterd.
SKIP: {
	skip('no pidfs (Linux 6.9+): LISTEN_PIDFDID is not checked', 6)
	    unless have_pidfs();
	my $manager = write_file("$TMPDIR/manager.pl", <<'END');
use strict;
use Fcntl qw(F_SETFD);
use POSIX ();
use Socket;
my ($addr, $pidfdid, @cmd) = @ARGV;
my ($host, $port) = $addr =~ /^(.*):(\d+)$/;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
bind($s, pack_sockaddr_in($port, inet_aton($host))) or die "bind: $!";
listen($s, 128) or die "listen: $!";
if (fileno($s) != 3) {
	POSIX::dup2(fileno($s), 3) or die "dup2: $!";	# dup2 clears CLOEXEC
} else {
	fcntl($s, F_SETFD, 0) or die "fcntl: $!";	# fd 3 stays open across exec
}
my $fd = syscall(434, $$ + 0, 0);	# pidfd_open(getpid()); a number, not a string
$fd >= 0 or die "pidfd_open: $!";
my $ino = (stat("/proc/self/fd/$fd"))[1];
POSIX::close($fd);
$ENV{LISTEN_FDS} = 1;
$ENV{LISTEN_PID} = $$;
$ENV{LISTEN_FDNAMES} = 'http';
$ENV{LISTEN_PIDFDID} = $pidfdid eq 'right' ? $ino : $ino + 1000;
print STDERR "manager: listening on $addr\n";
exec { $cmd[0] } @cmd or die "exec: $!";
END
	for my $case (['right', 1], ['wrong', 0]) {
		my ($which, $adopt) = @$case;
		my ($pa, $pb) = (free_port(), free_port());
		$c = start_clusterd(binary => $^X, args => [$manager,
		    "127.0.0.1:$pa", $which, $CLUSTERD, '-n', 1,
		    '-l', "http=127.0.0.1:" . ($adopt ? $pa : $pb), '--', $HELLO]);
		@w = wait_workers($c->pid, 1, 5, 'hello');
		if ($adopt) {
			ok($c->log_matches(qr/^clusterd: adopted 127\.0\.0\.1:$pa \(http\) from the service manager$/m),
			    'LISTEN_PIDFDID of clusterd: adopted');
			is(socket_inode($w[0] // 0, 3) // '',
			    (listener_inodes($pa))[0] // 'none',
			    'the worker has the manager\'s socket');
			ok(defined hello_pid($pa), 'it answers');
		} else {
			ok(!$c->log_matches(qr/adopted/),
			    'LISTEN_PIDFDID of another process: nothing adopted');
			ok($c->log_matches(qr/^clusterd: listening on 127\.0\.0\.1:$pb \(http\)$/m),
			    'the configured socket is bound instead');
			my $we = proc_env($w[0] // 0) // {};
			ok(!defined $we->{LISTEN_PIDFDID}
			    || $we->{LISTEN_PIDFDID} eq pidfd_inode($w[0]),
			    'the worker does not get the foreign LISTEN_PIDFDID');
		}
		kill TERM => $c->pid;
		wait_exit($c);
	}
}

done_testing();
