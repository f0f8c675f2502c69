# Reuseport mode (issue 6, contract §7): with --reuseport or `reuseport =
# yes`, clusterd opens one SO_REUSEPORT socket per slot, all bound to the
# same port, and holds every one itself; worker K gets slot K's as fd 3.
# What waits in a slot's queue survives its worker (kill -9 loses nothing,
# the replacement serves it); a scale-down steers the slot away and stops
# its worker only once its queue is empty; scale 0 keeps connections
# waiting; rolling restarts keep each slot's socket; a reload that changes
# the socket's options loses nothing and steers right afterwards; a second
# clusterd on the port fails as with a shared socket; UDP gets the same;
# [socket:NAME] options reach every slot's socket (getsockopt from a
# python worker), and clusterctl status shows them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::IP;
use Time::HiRes qw(time sleep);
use Test::More;
use Clusterd;

# {slot => pid} from clusterctl status.
sub slot_pids {
	my ($ctl) = @_;
	return { map { ($_->{id} => $_->{pid}) }
	    grep { ($_->{state} // '') ne 'stopping' }
	    @{ (ctl_status($ctl) // {})->{workers} // [] } };
}

# Wait until the slots 0..N-1 have hello workers, ready by clusterctl status;
# returns {slot => pid}.
sub wait_slots {
	my ($ctl, $n, $secs) = @_;
	my $s;
	wait_for(sub {
		my $st = ctl_status($ctl) // return 0;
		my @w = grep { ($_->{state} // '') eq 'ready' } @{ $st->{workers} // [] };
		$s = { map { ($_->{id} => $_->{pid}) } @w };
		return @w == $n && @{ $st->{workers} } == $n
		    && join(',', sort { $a <=> $b } keys %$s) eq join(',', 0 .. $n - 1)
		    && !grep { !hello_ready_pid($_) } values %$s;
	}, $secs // 5, "$n ready workers in slots 0-" . ($n - 1));
	return $s;
}

sub hello_ready_pid { Clusterd::hello_ready($_[0]) }


# --- The sockets: one per slot, held by clusterd, kept across deaths and
# --- generations ---
my $port = free_port();
my $ctl = "$TMPDIR/ctl-a";
my $c = start_clusterd(args => ['-n', 4, '--reuseport', '-s', $ctl,
    '-l', "127.0.0.1:$port", '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: listening on 127\.0\.0\.1:$port \(listen0\), a socket per worker \(reuseport\)$/m),
    'log: listening ..., a socket per worker (reuseport)');
my $s = wait_slots($ctl, 4);
is(scalar(keys %$s), 4, 'four workers');
my %ino = map { ($_ => fd_inode($s->{$_}, 3)) } keys %$s;
is(scalar(grep { defined } values %ino), 4, 'each worker has a socket as fd 3');
my %distinct = map { ($_ => 1) } grep { defined } values %ino;
is(scalar(keys %distinct), 4, "the four fd 3 are four sockets (inodes @{[ sort values %ino ]})");
my $l = listen_sockets($port);
is(join(' ', sort keys %$l), join(' ', sort keys %distinct),
    '/proc/net/tcp: exactly those four listen on the port');
my %held = map { ($_ // '') =~ /^socket:\[(\d+)\]$/ ? ($1 => 1) : () }
    values %{ proc_fds($c->pid) // {} };
is(scalar(grep { $held{$_} } keys %distinct), 4, 'clusterd holds all four itself');
is(proc_env($s->{$_})->{LISTEN_FDS}, 1, "worker $_: LISTEN_FDS=1") for sort keys %$s;
my $r = burst(port => $port, clients => 4, requests => 200);
is($r->{failed}, 0, '200 requests answered');
is(scalar(keys %{ $r->{ids} }), 4, 'by all four slots');

# A replacement gets its slot's socket, the same one.
kill KILL => $s->{2};
ok($c->wait_log(qr/^clusterd: worker 2 \(pid $s->{2}\) killed by signal 9; restarting now$/m),
    'kill -9 worker 2: restarted now');
my $s2 = wait_slots($ctl, 4);
isnt($s2->{2} // $s->{2}, $s->{2}, 'slot 2 has a new worker');
is(fd_inode($s2->{2} // 0, 3), $ino{2}, "the new worker's fd 3 is slot 2's socket");
is(scalar(keys %{ listen_sockets($port) }), 4, 'still four listening sockets');

# --- kill -9 a worker while connections wait in its queue: its replacement
# --- answers every one of them ---
my $victim = $s2->{1};
kill STOP => $victim;
my @conns;
my $queued = sub { listen_sockets($port)->{$ino{1}} // 0 };
wait_for(sub {
	push(@conns, open_conns($port, 4));
	poll_conns(\@conns);
	return $queued->() >= 3 || @conns >= 200;
}, 10, "connections queued for slot 1");
# Each one is answered by another slot or waits in slot 1's queue.
ok(wait_for(sub { poll_conns(\@conns) + $queued->() == @conns }, 5,
    'the others to answer'), 'every connection is answered or queued for slot 1');
my @waiting = grep { !$_->{done} } @conns;
cmp_ok(scalar(@waiting), '>=', 3,
    scalar(@waiting) . ' of ' . scalar(@conns) . ' connections wait in the stopped worker\'s queue');
is(scalar(grep { !answer_of($_) } grep { $_->{done} } @conns), 0,
    'the others were answered by the other workers');
kill KILL => $victim;
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $victim\) killed by signal 9; restarting now$/m),
    'kill -9 the stopped worker: restarted now');
ok(wait_for(sub { poll_conns(\@waiting) == @waiting }, 5, 'the queued requests'),
    'the queued connections are all done');
my $s3 = wait_slots($ctl, 4);
my @bad = grep { my @a = answer_of($_); !@a || $a[0] != 1 || $a[1] != ($s3->{1} // 0) } @waiting;
is(scalar(@bad), 0, 'each was answered by the new worker of slot 1 (pid '
    . ($s3->{1} // '?') . '), none reset')
    or diag(join("\n", map { describe($_) } @bad));
is(fd_inode($s3->{1} // 0, 3), $ino{1}, 'which has slot 1\'s socket');
close($_->{s}) for grep { $_->{s} } @conns;
@conns = ();

# --- A rolling restart keeps each slot's socket, and loses no request ---
my $load = start_load($port, timeout => 5);
ok(wait_load($load, 20), 'load runs');
my ($code, $out, $err) = clusterctl($ctl, 'restart');
is($code, 0, 'clusterctl restart: exit 0') or diag($out, $err);
my @g2 = wait_generation($c->pid, 4, 2, 10, 'hello');
is(scalar(@g2), 4, 'four workers of generation 2');
my $gw = worker_gens($c->pid, 'hello');
my @moved = grep { (fd_inode($_, 3) // 0) != ($ino{$gw->{$_}[0]} // -1) } @g2;
is(scalar(@moved), 0, 'generation 2: each worker has its slot\'s socket of before');
wait_load($load, 20);
$r = stop_load($load);
is($r->{failed}, 0, "rolling restart under load: none of $r->{ok} requests failed")
    or diag(join("\n", @{ $r->{errors} }));
is(scalar(keys %{ listen_sockets($port) }), 4, 'still four listening sockets');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'exit 0');
is(scalar(keys %{ listen_sockets($port) }), 0, 'no socket left on the port');

# --- Scale from 8 to 2 under load: a slot that goes is steered away first
# --- and its worker stopped only when its queue is empty ---
$port = free_port();
$ctl = "$TMPDIR/ctl-b";
$c = start_clusterd(args => ['-n', 8, '--reuseport', '-s', $ctl,
    '-l', "127.0.0.1:$port", '--', $HELLO]);
$s = wait_slots($ctl, 8);
is(scalar(keys %$s), 8, 'eight workers');
my $ino7 = fd_inode($s->{7}, 3);
my @loads = map { start_load($port, timeout => 5) } 1 .. 3;
ok(wait_load($_, 20), 'load runs') for @loads;
# Slot 7's worker is stopped with connections in its queue when the scale
# comes; they must be served, not reset.  (A load request may wait there
# too, at most one per load client: 3.)
kill STOP => $s->{7};
$queued = sub { listen_sockets($port)->{$ino7} // 0 };
wait_for(sub {
	push(@conns, open_conns($port, 4));
	poll_conns(\@conns);
	return $queued->() >= 6 || @conns >= 200;
}, 10, "connections queued for slot 7");
my $q7 = $queued->();
cmp_ok($q7, '>=', 6, "$q7 connections wait in slot 7's queue");
($code, $out, $err) = clusterctl($ctl, 'scale', 2);
is($code, 0, 'clusterctl scale 2: exit 0') or diag($out, $err);
ok(wait_for(sub { !grep { alive($s->{$_}) } 2 .. 6 }, 10, 'slots 2-6 to stop'),
    'the workers of slots 2-6 stopped');
ok(wait_for(sub { keys(%{ listen_sockets($port) }) == 3 }, 5, '3 listening sockets'),
    'their sockets are closed once they exited; 3 left');
# A stopped process keeps a SIGTERM pending. Slot 7's drain check runs
# on the same 10 ms timer that already stopped slots 2-6 (above), and a
# status answer proves clusterd went round its loop since: had it meant to
# stop slot 7's worker, the signal would be pending by now.
my $term = sub {
	my $st = slurp("/proc/$s->{7}/status") // '';
	my $p = 0;
	$p |= hex($1) while $st =~ /^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/mg;
	return $p & (1 << (15 - 1));
};
ok(ctl_status($ctl), 'status answers after the scale-down');
my $sent = $term->();
ok(alive($s->{7}) && !$sent,
    'slot 7\'s worker is not stopped (no SIGTERM sent) while its queue is not empty');
cmp_ok($queued->(), '>=', $q7, 'its queue is intact');
ok(!$c->log_matches(qr/^clusterd: worker 7 .*(?:exited|killed)/m), 'log: worker 7 still there');
kill CONT => $s->{7};
ok(wait_for(sub { !alive($s->{7}) }, 10, 'worker 7 to exit'),
    'once resumed it serves its queue and is stopped');
ok(wait_for(sub { poll_conns(\@conns) == @conns }, 5, 'answers'), 'all direct requests done');
@bad = grep { !answer_of($_) } @conns;
is(scalar(@bad), 0, scalar(@conns) . ' direct requests answered, none reset')
    or diag(join("\n", map { describe($_) } @bad));
my @by7 = grep { (answer_of($_))[0] == 7 } grep { answer_of($_) } @conns;
cmp_ok(scalar(@by7), '>=', $q7 - 3, scalar(@by7) . ' of them were queued for slot 7 and '
    . 'answered by its worker after the scale');
is(scalar(grep { (answer_of($_))[1] != $s->{7} } @by7), 0, '... its one worker, pid ' . $s->{7});
close($_->{s}) for grep { $_->{s} } @conns;
@conns = ();
ok(wait_for(sub { keys(%{ listen_sockets($port) }) == 2 }, 5, '2 listening sockets'),
    'slot 7\'s socket is closed too: 2 left');
my $s4 = wait_slots($ctl, 2);
is_deeply($s4, { 0 => $s->{0}, 1 => $s->{1} }, 'slots 0 and 1 kept their workers');
wait_load($_, 20) for @loads;
my $sum = stop_loads(@loads);
my ($ok, $failed, @errors) = ($sum->{ok}, $sum->{failed}, @{ $sum->{errors} });
is($failed, 0, "scale 8 to 2 under load: none of $ok requests failed")
    or diag(join("\n", @errors));
like(log_text($c), qr/^clusterd: worker 7 \(pid $s->{7}\) exited with status 0$/m,
    'log: worker 7 exited with status 0');

# Up again: new slots get new sockets of their own.
($code, $out, $err) = clusterctl($ctl, 'scale', 4);
is($code, 0, 'clusterctl scale 4: exit 0') or diag($out, $err);
my $s5 = wait_slots($ctl, 4);
my %i5 = map { ((fd_inode($_, 3) // 0) => 1) } values %$s5;
is(scalar(keys %i5), 4, 'scale 4: four distinct fd 3');
is(join(' ', sort keys %{ listen_sockets($port) }), join(' ', sort keys %i5),
    'scale 4: those four listen on the port');
$r = burst(port => $port, clients => 4, requests => 200);
is($r->{failed}, 0, 'scale 4: 200 requests answered');
is(scalar(keys %{ $r->{ids} }), 4, 'scale 4: by all four slots');

# scale 0 under load: as with a shared socket, connections wait (in slot
# 0's socket, which stays) until a scale up; none is reset.
@loads = map { start_load($port, timeout => 5) } 1 .. 6;
ok(wait_load($_, 10), 'load runs') for @loads;
($code, $out, $err) = clusterctl($ctl, 'scale', 0);
is($code, 0, 'clusterctl scale 0: exit 0') or diag($out, $err);
ok(wait_for(sub { !grep { alive($_) } values %$s5 }, 10, 'every worker to exit'),
    'scale 0: every worker exited');
ok(wait_for(sub { keys(%{ listen_sockets($port) }) == 1 }, 5, 'one listening socket'),
    'scale 0: one socket left (slot 0\'s)');
($code, $out, $err) = clusterctl($ctl, 'scale', 1);
is($code, 0, 'clusterctl scale 1: exit 0') or diag($out, $err);
wait_slots($ctl, 1);
ok(wait_load($_, 10), 'load runs again') for @loads;
$sum = stop_loads(@loads);
($ok, $failed, @errors) = ($sum->{ok}, $sum->{failed}, @{ $sum->{errors} });
is($failed, 0, "scale 4 to 0 to 1 under load: none of $ok requests failed (reset)")
    or diag(join("\n", @errors));
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'exit 0');

# --- A slot scaled away while in backoff; a reload that changes the
# --- socket's options ---
# A worker of slot K exits 7 at once while $TMPDIR/down.K exists; ready
# after 200ms alive, so a crash-looping slot never counts as ready.
$port = free_port();
$ctl = "$TMPDIR/ctl-r";
my $rconf = "$TMPDIR/reload.conf";
my $write_rconf = sub {
	my ($backlog) = @_;
	write_file($rconf, <<"END");
[clusterd]
workers = 4
control = $ctl
[socket:http]
listen = 127.0.0.1:$port
reuseport = yes
backlog = $backlog
[program]
command = /bin/sh -c 'test -e $TMPDIR/down.{worker} && exit 7; exec $HELLO'
ready = 200ms
backoff_initial = 20s
END
};
$write_rconf->(100);
$c = start_clusterd(args => ['-c', $rconf]);
$s = wait_slots($ctl, 4);
is(scalar(keys %$s), 4, 'four workers');

# Connections wait in slot 3's queue while it crash-loops; then slot 3 is
# scaled away.  Its socket must not be closed with them in it.
my $ino3 = fd_inode($s->{3}, 3);
kill STOP => $s->{3};
$queued = sub { listen_sockets($port)->{$ino3} // 0 };
wait_for(sub {
	push(@conns, open_conns($port, 4));
	poll_conns(\@conns);
	return $queued->() >= 3 || @conns >= 200;
}, 10, 'connections queued for slot 3');
ok(wait_for(sub { poll_conns(\@conns) + $queued->() == @conns }, 5,
    'the others to answer'), 'every connection is answered or queued for slot 3');
@waiting = grep { !$_->{done} } @conns;
cmp_ok(scalar(@waiting), '>=', 3, scalar(@waiting) . ' connections wait in slot 3\'s queue');
write_file("$TMPDIR/down.3", '');
kill KILL => $s->{3};
ok($c->wait_log(qr/^clusterd: worker 3 \(pid \d+\) exited with status 7; restarting in 20s$/m),
    'slot 3 crash-loops: in backoff for 20s');
is($queued->(), scalar(@waiting), 'the connections still wait in its queue');
($code, $out, $err) = clusterctl($ctl, 'scale', 3);
is($code, 0, 'clusterctl scale 3: exit 0') or diag($out, $err);
unlink("$TMPDIR/down.3");
wait_for(sub { poll_conns(\@waiting) == @waiting || !defined(listen_sockets($port)->{$ino3}) }, 3,
    'the queued connections');
poll_conns(\@waiting);
@bad = grep { $_->{done} && !answer_of($_) } @waiting;
is(scalar(@bad), 0, 'scale down of a slot in backoff: none of the ' . scalar(@waiting)
    . ' connections in its queue is reset')
    or diag(join("\n", map { describe($_) } @bad));
close($_->{s}) for grep { $_->{s} } @conns;
@conns = ();
($code, $out, $err) = clusterctl($ctl, 'scale', 4);
$s = wait_slots($ctl, 4);
is(scalar(keys %$s), 4, 'scale 4: four workers again');

# A reload that changes the socket's options (backlog 100 -> 200) changes
# them in place on the sockets clusterd holds: a second socket per slot
# would join the same reuseport group and confuse the steering. No request
# may be lost, and the steering must still know which socket is whose.
my %before = %{ listen_sockets($port) };
@loads = map { start_load($port, timeout => 5) } 1 .. 3;
ok(wait_load($_, 10), 'load runs') for @loads;
$write_rconf->(200);
kill HUP => $c->pid;
ok($c->wait_log(qr/^clusterd: reload: socket:\S+ backlog applies now$/m, 10),
    'reload backlog 200: applied in place, no restart');
is(join(' ', sort keys %{ listen_sockets($port) }), join(' ', sort keys %before),
    'reload backlog 200: the same listening sockets');
$s = wait_slots($ctl, 4);
ok(wait_load($_, 10), 'load runs') for @loads;
$sum = stop_loads(@loads);
($ok, $failed, @errors) = ($sum->{ok}, $sum->{failed}, @{ $sum->{errors} });
is($failed, 0, "reload of a reuseport socket's options under load: none of $ok requests failed")
    or diag(join("\n", @errors));
%ino = map { ($_ => fd_inode($s->{$_}, 3)) } keys %$s;
$l = listen_sockets($port);
is(join(' ', sort keys %$l), join(' ', sort values %ino),
    'reload: four listening sockets, the workers\' fd 3');
write_file("$TMPDIR/down.1", '');
kill KILL => $s->{1};
ok($c->wait_log(qr/^clusterd: worker 1 \(pid \d+\) exited with status 7; restarting in 20s$/m),
    'reload: slot 1 crash-loops');
$r = burst(port => $port, clients => 8, requests => 120, timeout => 0.5);
is($r->{failed}, 0, 'reload, slot 1 down: all 120 new connections answered')
    or diag(join("\n", @{ $r->{errors} }[0 .. 2]));
is(join(' ', sort keys %{ $r->{ids} }), '0 2 3', 'reload, slot 1 down: by slots 0, 2 and 3')
    or diag(balance_text($r->{ids}));
unlink("$TMPDIR/down.1");

# A second clusterd on the same port fails as with a shared socket
# (contract §4: Address already in use, exit 2) instead of joining the
# first one's reuseport group.
my ($c2code, $c2out, $c2err, $c2) = run_clusterd(args => ['-n', 1, '--reuseport',
    '-s', "$TMPDIR/ctl-2", '-l', "127.0.0.1:$port", '--', $HELLO], timeout => 3);
is($c2code, 2, 'a second clusterd --reuseport on the same port: exit 2');
like($c2err, qr/^clusterd: 127\.0\.0\.1:$port: Address already in use$/m,
    'a second clusterd: Address already in use');
unless (defined $c2code) {
	kill TERM => $c2->pid;
	wait_exit($c2, 10);
}
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'exit 0');

# --- UDP: a datagram socket per slot, flows spread over the slots ---
my $uport = free_udp_port();
$ctl = "$TMPDIR/ctl-u";
$c = start_clusterd(args => ['-n', 8, '--reuseport', '-s', $ctl,
    '-l', "udp:127.0.0.1:$uport", '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: listening on udp:127\.0\.0\.1:$uport \(listen0\), a socket per worker \(reuseport\)$/m),
    'udp: log: listening ..., a socket per worker (reuseport)');
$s = wait_slots($ctl, 8);
%ino = map { ($_ => fd_inode($s->{$_}, 3)) } keys %$s;
%distinct = map { ($_ => 1) } grep { defined } values %ino;
is(scalar(keys %distinct), 8, 'udp: eight workers, eight distinct fd 3');
is(join(' ', sort keys %{ listen_sockets($uport, udp => 1) }), join(' ', sort keys %distinct),
    '/proc/net/udp: exactly those eight on the port');
$r = burst(port => $uport, clients => 8, requests => 800, udp => 1);
is($r->{failed}, 0, 'udp: 800 datagrams from 800 source ports answered')
    or diag(join("\n", @{ $r->{errors} }));
is(scalar(keys %{ $r->{ids} }), 8, 'udp: by all eight slots');
diag('udp, 800 datagrams: ' . balance_text($r->{ids}, 8));
cmp_ok(balance_ratio($r->{ids}, 8), '<=', 2, 'udp: busiest/idlest <= 2');

# Datagrams waiting for a stopped worker are answered by its replacement.
$victim = $s->{2};
kill STOP => $victim;
my @dg;
for (1 .. 64) {
	my $u = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $uport,
	    Proto => 'udp') or next;
	syswrite($u, 'hi');
	push(@dg, { s => $u });
}
my ($answered, $since) = (-1, time());
wait_for(sub {
	my $n = grep {
		$_->{a} //= IO::Select->new($_->{s})->can_read(0)
		    ? do { my $b; sysread($_->{s}, $b, 65536); $b } : undef;
		defined $_->{a};
	} @dg;
	($answered, $since) = ($n, time()) if $n != $answered;
	return (listen_sockets($uport, udp => 1)->{$ino{2}} // 0) > 0
	    && time() - $since > 0.3;
}, 5, 'the others to answer, and datagrams queued for slot 2');
my @wait = grep { !defined $_->{a} } @dg;
cmp_ok(scalar(@wait), '>=', 1, scalar(@wait) . ' of 64 datagrams wait for the stopped worker');
kill KILL => $victim;
ok($c->wait_log(qr/^clusterd: worker 2 \(pid $victim\) killed by signal 9; restarting now$/m),
    'udp: kill -9 the stopped worker: restarted now');
$s2 = wait_slots($ctl, 8);
ok(wait_for(sub {
	!grep {
		$_->{a} //= IO::Select->new($_->{s})->can_read(0)
		    ? do { my $b; sysread($_->{s}, $b, 65536); $b } : undef;
		!defined $_->{a};
	} @wait;
}, 5, 'answers to the queued datagrams'), 'udp: kill -9: each queued datagram is answered');
my $np = $s2->{2} // 0;
is(scalar(grep { ($_->{a} // '') !~ /^hello world from worker 2 \(pid $np\)\n\z/ } @wait), 0,
    "udp: by slot 2's new worker (pid $np)");
is(fd_inode($np, 3), $ino{2}, 'udp: which has slot 2\'s socket');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'udp: exit 0');

# --- [socket:NAME] options, read back with getsockopt from a worker ---
SKIP: {
	skip("no $PYTHON3", 1) unless -x $PYTHON3;
	my $v6 = have_ipv6();
	my $transparent = ((slurp('/proc/self/status') // '') =~ /^CapEff:\s*([0-9a-f]+)/m
	    && hex(substr($1, -4)) & (1 << 12)) ? 1 : 0;	# CAP_NET_ADMIN
	my $py = write_file("$TMPDIR/opts.py", <<'END');
import json, os, socket, struct, sys, time
out = {}
for fd in range(3, 3 + int(os.environ["LISTEN_FDS"])):
    s = socket.socket(fileno=fd)
    g = lambda level, opt: s.getsockopt(level, opt)
    d = {"inode": os.fstat(fd).st_ino, "port": s.getsockname()[1],
         "family": int(s.family), "type": int(s.type),
         "reuseport": g(socket.SOL_SOCKET, socket.SO_REUSEPORT),
         "keepalive": g(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
         "rcvbuf": g(socket.SOL_SOCKET, socket.SO_RCVBUF),
         "sndbuf": g(socket.SOL_SOCKET, socket.SO_SNDBUF)}
    if s.family == socket.AF_INET6:
        d["ipv6only"] = g(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        d["freebind"] = g(socket.IPPROTO_IPV6, 78)      # IPV6_FREEBIND
        d["transparent"] = g(socket.IPPROTO_IPV6, 75)   # IPV6_TRANSPARENT
    else:
        d["freebind"] = g(socket.IPPROTO_IP, 15)        # IP_FREEBIND
        d["transparent"] = g(socket.IPPROTO_IP, 19)     # IP_TRANSPARENT
    if s.type == socket.SOCK_STREAM:
        d["nodelay"] = g(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        d["defer_accept"] = g(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT)
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        # a listener's tcpi_sacked is its backlog (sk_max_ack_backlog)
        d["backlog"] = struct.unpack_from("8B6I", info)[13]
    s.detach()
    out[os.environ["LISTEN_FDNAMES"].split(":")[fd - 3]] = d
path = sys.argv[1] + "." + os.environ["CLUSTERD_WORKER_ID"]
open(path + ".tmp", "w").write(json.dumps(out))
os.rename(path + ".tmp", path)
time.sleep(1000)
END
	my $tport = free_port();
	my $conf = write_file("$TMPDIR/opts.conf", <<"END" . ($v6 ? <<"END6" : '') . <<"ENDP");
[clusterd]
workers = 2
control = $TMPDIR/ctl-o
[socket:http]
listen = 127.0.0.1:$tport
reuseport = yes
backlog = 77
nodelay = yes
keepalive = yes
rcvbuf = 65536
sndbuf = 98304
defer_accept = 5s
freebind = yes
transparent = ${\ ($transparent ? 'yes' : 'no') }
[socket:dns]
listen = udp:127.0.0.1:0
reuseport = yes
rcvbuf = 32768
END
[socket:v6]
listen = [::]:0
reuseport = yes
ipv6only = yes
END6
[program]
command = $PYTHON3 $TMPDIR/opts.py $TMPDIR/opts
ENDP
	my $o = start_clusterd(args => ['-c', $conf]);
	my @names = ('http', 'dns', $v6 ? 'v6' : ());
	ok(wait_for(sub { -s "$TMPDIR/opts.0" && -s "$TMPDIR/opts.1" }, 10, 'the python workers'),
	    'options: both python workers report') or last;
	require JSON::PP;
	my @w = map { JSON::PP::decode_json(slurp("$TMPDIR/opts.$_")) } 0, 1;
	for my $k (0, 1) {
		my $h = $w[$k]{http} // {};
		my $n = "options: worker $k: http";
		is($h->{reuseport}, 1, "$n: SO_REUSEPORT 1");
		is($h->{port}, $tport, "$n: bound to port $tport");
		is($h->{backlog}, 77, "$n: backlog 77 (tcpi_sacked of the listener)");
		is($h->{nodelay}, 1, "$n: TCP_NODELAY 1");
		is($h->{keepalive}, 1, "$n: SO_KEEPALIVE 1");
		is($h->{rcvbuf}, 2 * 65536, "$n: SO_RCVBUF 65536 (the kernel shows it doubled)");
		is($h->{sndbuf}, 2 * 98304, "$n: SO_SNDBUF 98304 (doubled)");
		cmp_ok($h->{defer_accept} // 0, '>=', 5, "$n: TCP_DEFER_ACCEPT >= 5s ($h->{defer_accept})");
		is($h->{freebind}, 1, "$n: IP_FREEBIND 1");
		is($h->{transparent}, $transparent, "$n: IP_TRANSPARENT $transparent"
		    . ($transparent ? '' : ' (no CAP_NET_ADMIN: not asked)'));
		my $d = $w[$k]{dns} // {};
		is($d->{type}, 2, "options: worker $k: dns: SOCK_DGRAM");
		is($d->{reuseport}, 1, "options: worker $k: dns: SO_REUSEPORT 1");
		is($d->{rcvbuf}, 2 * 32768, "options: worker $k: dns: SO_RCVBUF 32768 (doubled)");
		next unless $v6;
		my $six = $w[$k]{v6} // {};
		is($six->{family}, 10, "options: worker $k: v6: AF_INET6");
		is($six->{ipv6only}, 1, "options: worker $k: v6: IPV6_V6ONLY 1 (on [::], whose default is 0)");
		is($six->{reuseport}, 1, "options: worker $k: v6: SO_REUSEPORT 1");
		is($six->{nodelay}, 0, "options: worker $k: v6: TCP_NODELAY 0 (not asked)");
		is($six->{keepalive}, 0, "options: worker $k: v6: SO_KEEPALIVE 0 (not asked)");
	}
	for my $name (@names) {
		isnt($w[0]{$name}{inode} // 0, $w[1]{$name}{inode} // 0,
		    "options: $name: the two workers have two sockets");
		is($w[0]{$name}{port}, $w[1]{$name}{port}, "options: $name: on one port");
	}
	($code, $out, $err) = clusterctl("$TMPDIR/ctl-o", 'status');
	like($out, qr/^http .*\breuseport backlog=77 nodelay keepalive defer_accept=5s rcvbuf=65536 sndbuf=98304 freebind${\ ($transparent ? ' transparent' : '') }\b/m,
	    'options: clusterctl status shows the http socket\'s options') or diag($out, $err);
	like($out, qr/^v6 .*\breuseport ipv6only=yes\b/m, 'options: ... and the v6 one\'s')
	    if $v6;
	kill TERM => $o->pid;
	is(wait_exit($o, 10), 0, 'options: exit 0');
}

# freebind: bind an address this host does not have.
{
	my $fport = free_port();
	my $conf = write_file("$TMPDIR/freebind.conf", <<"END");
[clusterd]
workers = 2
control = $TMPDIR/ctl-f
[socket:http]
listen = 192.0.2.1:$fport
reuseport = yes
freebind = yes
[program]
command = $HELLO
END
	my $f = start_clusterd(args => ['-c', $conf]);
	ok($f->wait_log(qr/^clusterd: 2 workers ready$/m),
	    'freebind = yes: listens on 192.0.2.1 (not an address of this host)');
	is(scalar(keys %{ listen_sockets($fport) }), 2, 'freebind: two sockets on the port');
	kill TERM => $f->pid;
	is(wait_exit($f, 10), 0, 'freebind: exit 0');
	(my $nofb = slurp($conf)) =~ s/^freebind = yes\n//m;
	write_file($conf, $nofb);
	my ($code, $out, $err) = run_clusterd(args => ['-c', $conf]);
	is($code, 2, 'without freebind: exit 2');
	like($err, qr/192\.0\.2\.1:$fport: Cannot assign requested address/,
	    'without freebind: Cannot assign requested address');
}

done_testing();
