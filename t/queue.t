# Accept-queue figures (issue 15, spec "status / --json"): clusterctl status
# --json shows for each socket queue {depth, limit, drops, stalled} (null for
# UDP) and, in reuseport mode, for each worker the queue of its slot's socket;
# the figures are the kernel's, the same that `ss -lnt` shows as Recv-Q
# (depth) and Send-Q (limit) for the same socket at the same moment, and the
# drops its skmem "d" counter (sk_drops: SYNs and handshakes a full queue
# dropped).  A UNIX stream socket shows depth and limit too.  A worker that
# calls listen() again on its inherited socket changes the limit for every
# worker: status shows the new limit and clusterd warns once.  The text
# status shows QUEUE (depth/limit) and DROPS columns.
#
# The queues are made with examples/hello as a slow prefork worker
# (HELLO_SERIAL=1: one connection at a time; HELLO_DELAY_MS=600000: it holds
# that one for ten minutes), so whatever else connects waits in the queue and
# the figures stay put while ss and status read them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::IP;
use IO::Socket::UNIX;
use JSON::PP ();
use POSIX qw(EINPROGRESS);
use Socket qw(PF_INET SOCK_STREAM inet_aton pack_sockaddr_in);
use Test::More;
use Clusterd;

# --- ss: what the kernel says, through sock_diag as ss reads it ---

# The records of `ss -H ARGS...`, a record being a line and the indented
# lines that continue it (ss puts skmem on its own line for TCP).
sub ss_records {
	my @args = @_;
	open(my $fh, '-|', 'ss', '-H', @args) or return [];
	local $/;
	my $out = <$fh> // '';
	close($fh);
	return [split(/\n(?=\S)/, $out)];
}

# The TCP listeners on $port: {inode => {depth => Recv-Q, limit => Send-Q,
# drops => skmem d}}.
sub ss_tcp {
	my ($port) = @_;
	my %r;
	for my $rec (@{ ss_records('-lntem', 'sport', '=', ":$port") }) {
		my @f = split(' ', $rec);
		my ($i) = grep { $f[$_] eq 'LISTEN' } 0 .. $#f;
		my ($ino) = $rec =~ /\bino:(\d+)/;
		next unless defined $i && defined $ino;
		my ($d) = $rec =~ /\bskmem:\([^)]*\bd(\d+)\)/;
		$r{$ino} = { depth => $f[$i + 1] + 0, limit => $f[$i + 2] + 0,
		    drops => defined $d ? $d + 0 : undef };
	}
	return \%r;
}

# The one TCP listener on $port (shared socket mode), or undef.
sub ss_tcp1 {
	my ($port) = @_;
	my @v = values %{ ss_tcp($port) };
	return @v == 1 ? $v[0] : undef;
}

# The UNIX stream listener at $path: {depth, limit}, or undef.
sub ss_unix {
	my ($path) = @_;
	for my $rec (@{ ss_records('-lnx') }) {
		my @f = split(' ', $rec);
		my ($i) = grep { $f[$_] eq 'LISTEN' } 0 .. $#f;
		next unless defined $i && $f[0] eq 'u_str' && ($f[$i + 3] // '') eq $path;
		return { depth => $f[$i + 1] + 0, limit => $f[$i + 2] + 0 };
	}
	return undef;
}

sub same {
	my ($a, $b) = @_;
	require JSON::PP;
	my $js = JSON::PP->new->canonical;
	return $js->encode([$a]) eq $js->encode([$b]);
}

# ss right before and right after one status --json: (ss figures, status)
# from the first try where both ss readings agree, so that status must show
# exactly those; (undef, undef) if they never agree in 20 tries.
sub status_between {
	my ($ctl, $ss) = @_;
	for (1 .. 20) {
		my $before = $ss->();
		my $st = ctl_status($ctl);
		my $after = $ss->();
		return ($before, $st) if $st && same($before, $after);
	}
	diag('ss never read the same before and after a status call');
	return (undef, undef);
}

sub fig {
	my ($q) = @_;
	return 'null' unless ref $q eq 'HASH';
	return join(' ', map { "$_=" . ($q->{$_} // 'null') } sort keys %$q);
}

sub sock_named {
	my ($st, $name) = @_;
	my ($s) = grep { ($_->{name} // '') eq $name } @{ ($st // {})->{sockets} // [] };
	return $s // {};
}

# --- Clients that open a connection, send a request and hold it ---

sub open_tcp {
	my ($port, $n) = @_;
	my @c;
	for (1 .. $n) {
		my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
		    Proto => 'tcp', Timeout => 2) or next;
		syswrite($s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
		push(@c, $s);
	}
	return @c;
}

sub open_unix {
	my ($path, $n) = @_;
	my @c;
	for (1 .. $n) {
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path) or next;
		syswrite($s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
		push(@c, $s);
	}
	return @c;
}

# Connects that do not wait: on a full queue the SYN is dropped (and sent
# again by the client after 1 s, 3 s, ...).
sub open_nonblocking {
	my ($port, $n) = @_;
	my @c;
	for (1 .. $n) {
		socket(my $s, PF_INET, SOCK_STREAM, 0) or next;
		$s->blocking(0);
		connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1')))
		    or $! == EINPROGRESS or next;
		push(@c, $s);
	}
	return @c;
}

my $somaxconn = (slurp('/proc/sys/net/core/somaxconn') // 4096) + 0;
my $default_limit = $somaxconn < 4096 ? $somaxconn : 4096;

# === 1. Shared sockets: TCP with backlog = 64, a UNIX socket, a UDP
# ===    socket, and a TCP socket with backlog = 2 that overflows ===
my $port = free_port();
my $tiny = free_port();
my $uport = free_udp_port();
my $dir = "$TMPDIR/q1";
mkdir($dir);
my $upath = "$dir/u.sock";
my $ctl = "$dir/ctl";
my $conf = write_file("$dir/q1.conf", <<"END");
[clusterd]
workers = 2
control = $ctl
stop_timeout = 1s
[socket:http]
listen = 127.0.0.1:$port
backlog = 64
[socket:u]
listen = unix:$upath
[socket:dns]
listen = udp:127.0.0.1:$uport
[socket:tiny]
listen = 127.0.0.1:$tiny
backlog = 2
[program]
command = $HELLO
[env]
HELLO_SERIAL = 1
HELLO_DELAY_MS = 600000
END
my $c = start_clusterd(args => ['-c', $conf]);
my $st = wait_settled($ctl, 2);
ok($st, 'shared: 2 of 2 workers ready') or BAIL_OUT('clusterd did not start');

# Empty queues, and the limits.
is_deeply(ss_tcp1($port), { depth => 0, limit => 64, drops => 0 },
    'shared: ss: http is an empty queue of 64');
my $q = sock_named($st, 'http')->{queue};
is(ref $q, 'HASH', 'status --json: sockets[http].queue is an object') or diag(fig($q));
$q //= {};
is($q->{depth}, 0, 'status --json: http: depth 0');
is($q->{limit}, 64, 'status --json: http: backlog = 64 gives limit 64');
ok(exists $q->{drops}, 'status --json: http: has drops');
ok(exists $q->{stalled} && JSON::PP::is_bool($q->{stalled}) && !$q->{stalled},
    'status --json: http: stalled false (a boolean)') or diag(fig($q));
my $tq = sock_named($st, 'tiny')->{queue} // {};
is($tq->{limit}, 2, 'status --json: tiny: backlog = 2 gives limit 2') or diag(fig($tq));
my $dq = sock_named($st, 'dns');
ok(exists $dq->{queue} && !defined $dq->{queue}, 'status --json: the UDP socket\'s queue is null')
    or diag(fig($dq->{queue}));
my $uq = sock_named($st, 'u')->{queue} // {};
my $ssu = ss_unix($upath) // {};
is($ssu->{limit}, $default_limit, "ss: the UNIX socket's limit is $default_limit (the default backlog)");
is($uq->{limit}, $ssu->{limit}, "status --json: u: limit $default_limit, as ss shows")
    or diag(fig($uq));
is($uq->{depth}, 0, 'status --json: u: depth 0');
my @w = @{ $st->{workers} // [] };
is(scalar(grep { exists $_->{queue} && !defined $_->{queue} } @w), 2,
    'status --json: no reuseport: each worker\'s queue is null');
is(scalar(grep { exists $_->{hung} && JSON::PP::is_bool($_->{hung}) && !$_->{hung} } @w), 2,
    'status --json: each worker: hung false');
is(scalar(grep { exists $_->{recycle_at} && !defined $_->{recycle_at} } @w), 2,
    'status --json: each worker: recycle_at null (no max_age)');

# Ten requests to http: each worker takes one and holds it, eight wait.
# Then three on the UNIX socket, which both busy workers leave waiting.
my @conns = open_tcp($port, 10);
is(scalar(@conns), 10, 'shared: 10 connections to http, a request sent on each');
ok(wait_for(sub { (ss_tcp1($port) // {})->{depth} == 8 }, 5, 'Recv-Q 8 on http'),
    'ss: 8 of them wait in the queue (each worker holds one)');
push(@conns, open_unix($upath, 3));
ok(wait_for(sub { (ss_unix($upath) // {})->{depth} == 3 }, 5, 'Recv-Q 3 on the UNIX socket'),
    'ss: 3 connections wait on the UNIX socket');
my @waiting = open_nonblocking($tiny, 8);
is(scalar(@waiting), 8, 'shared: 8 connects to tiny (backlog 2)');
ok(wait_for(sub { my $t = ss_tcp1($tiny) // {}; $t->{depth} == 3 && ($t->{drops} // 0) > 0 },
    5, 'tiny full, with drops'), 'ss: tiny holds 3 (its limit + 1, the kernel\'s full) and counts drops');

my $shared_ss = sub {
	return { http => ss_tcp1($port), tiny => ss_tcp1($tiny), u => ss_unix($upath) };
};
my ($ss, $st2) = status_between($ctl, $shared_ss);
ok($ss, 'ss read the same right before and after status');
for my $name (qw(http tiny)) {
	my $got = sock_named($st2, $name)->{queue} // {};
	my $want = $ss->{$name} // {};
	is($got->{depth}, $want->{depth}, "$name: depth $want->{depth} = ss Recv-Q")
	    or diag("status: " . fig($got));
	is($got->{limit}, $want->{limit}, "$name: limit $want->{limit} = ss Send-Q");
	is($got->{drops}, $want->{drops},
	    "$name: drops $want->{drops} = ss skmem d (connections the full queue dropped)");
	ok(JSON::PP::is_bool($got->{stalled}) && !$got->{stalled},
	    "$name: stalled false (hang_timeout off)");
}
is((sock_named($st2, 'http')->{queue} // {})->{depth}, 8, 'status --json: http: depth 8');
cmp_ok((sock_named($st2, 'tiny')->{queue} // {})->{drops} // 0, '>', 0,
    'status --json: tiny: drops > 0');
my $got = sock_named($st2, 'u')->{queue} // {};
is($got->{depth}, $ss->{u}{depth}, "u (UNIX): depth $ss->{u}{depth} = ss Recv-Q")
    or diag("status: " . fig($got));
is($got->{limit}, $ss->{u}{limit}, "u (UNIX): limit $ss->{u}{limit} = ss Send-Q");
my $d2 = sock_named($st2, 'dns');
ok(exists $d2->{queue} && !defined $d2->{queue}, 'dns (UDP): queue still null');

# The text: QUEUE (depth/limit) and DROPS columns in the SOCKET table.
my ($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 0, 'clusterctl status: exit 0') or diag($err);
my ($head) = $out =~ /^(SOCKET\b.*)$/m;
like($head // '', qr/\bQUEUE\b.*\bDROPS\b/, 'text status: the SOCKET table has QUEUE and DROPS columns')
    or diag($out);
like($out, qr{^http\s.*\s8/64\s}m, 'text status: http shows QUEUE 8/64') or diag($out);
like($out, qr{^u\s.*\s3/$ss->{u}{limit}\s}m, "text status: u shows QUEUE 3/$ss->{u}{limit}");
like($out, qr{^tiny\s.*\s3/2\s+\d+(?:\s|$)}m, 'text status: tiny shows QUEUE 3/2 and a DROPS figure');
unlike($out, qr/^ID\s+(?:\S+\s+)*?QUEUE\s+DROPS\s+HUNG\s+RECYCLE/m,
    'text status: no per-slot table (no reuseport, max_age or hang_timeout)');

close($_) for @conns, @waiting;
@conns = @waiting = ();
stop_ok($c, 'shared');

# === 2. Reuseport: each worker's queue is its slot's socket's ===
$port = free_port();
$dir = "$TMPDIR/q2";
mkdir($dir);
$ctl = "$dir/ctl";
$conf = write_file("$dir/q2.conf", <<"END");
[clusterd]
workers = 4
control = $ctl
stop_timeout = 1s
[socket:http]
listen = 127.0.0.1:$port
reuseport = yes
backlog = 64
[program]
command = $HELLO
[env]
HELLO_SERIAL = 1
HELLO_DELAY_MS = 600000
END
$c = start_clusterd(args => ['-c', $conf]);
$st = wait_settled($ctl, 4);
ok($st, 'reuseport: 4 of 4 workers ready') or BAIL_OUT('clusterd did not start');
my %ino = map { ($_->{id} => fd_inode($_->{pid}, 3)) } @{ $st->{workers} // [] };
is(scalar(grep { defined } values %ino), 4, 'reuseport: each worker has its slot\'s socket as fd 3');
# 24 requests spread over the four slots by their source ports; each slot's
# worker holds one, the rest of the slot's wait in its queue.
@conns = open_tcp($port, 24);
is(scalar(@conns), 24, 'reuseport: 24 connections, a request sent on each');
my $prev = '';
ok(wait_for(sub {
	my $s = ss_tcp($port);
	my $busy = grep { $_->{depth} > 0 } values %$s;
	my $sum = 0;
	$sum += $_->{depth} for values %$s;
	my $now = join(',', map { $s->{$_}{depth} } sort keys %$s);
	my $settled = $now eq $prev && $sum >= 20;
	$prev = $now;
	return $settled && $busy;
}, 5, 'the slots\' queues to fill'), "ss: the slots' queues hold the 20 or more waiting ($prev)");
my $slot_ss = sub { ss_tcp($port) };
($ss, $st2) = status_between($ctl, $slot_ss);
ok($ss, 'reuseport: ss read the same right before and after status');
my $deep = 0;
for my $wk (sort { $a->{id} <=> $b->{id} } @{ ($st2 // {})->{workers} // [] }) {
	my $want = $ss->{ $ino{ $wk->{id} } // '' } // {};
	$deep++ if ($want->{depth} // 0) >= 2;
	my $q = $wk->{queue};
	is(ref $q, 'HASH', "reuseport: worker $wk->{id}: queue is an object") or next;
	is($q->{depth}, $want->{depth},
	    "reuseport: worker $wk->{id}: depth $want->{depth} = ss Recv-Q of its slot's socket");
	is($q->{limit}, $want->{limit}, "reuseport: worker $wk->{id}: limit $want->{limit} = ss Send-Q");
	is($q->{drops}, $want->{drops}, "reuseport: worker $wk->{id}: drops = ss skmem d")
	    if defined $q->{drops};
	ok(JSON::PP::is_bool($wk->{hung}) && !$wk->{hung}, "reuseport: worker $wk->{id}: hung false");
}
cmp_ok($deep, '>=', 1, 'reuseport: at least one slot has 2 or more waiting (not a comparison of zeros)');
diag('reuseport: sockets[http].queue: ' . fig(sock_named($st2, 'http')->{queue}));

($code, $out, $err) = clusterctl($ctl, 'status');
is($code, 0, 'reuseport: clusterctl status: exit 0') or diag($err);
# (columns besides these five, such as PID, are let be)
like($out, qr/^ID\s+(?:\S+\s+)*?QUEUE\s+DROPS\s+HUNG\s+RECYCLE\b/m,
    'reuseport: text status has the per-slot table ID QUEUE DROPS HUNG RECYCLE') or diag($out);
for my $id (sort keys %ino) {
	my $want = $ss->{ $ino{$id} // '' } // {};
	# the depth may move between this status and the ss before, but
	# nothing here accepts: the queues stay as they are
	like($out, qr{^$id\s+(?:\d+\s+)?\Q$want->{depth}/$want->{limit}\E\s+\d+\s+no\s}m,
	    "reuseport: text status: slot $id QUEUE $want->{depth}/$want->{limit}, DROPS, HUNG no");
}
close($_) for @conns;
@conns = ();
stop_ok($c, 'reuseport');

# === 3. A worker that calls listen() again on its socket ===
# A python worker that does listen(100) on fd 3, as hypercorn does (once it
# has loaded its app: 0.5 s after it started), then serves; once as a program clusterd knows nothing of (no hint in the
# warning), once named hypercorn (the hint: its option that fixes it).
sub relisten {
	my ($tag, $script, $hint) = @_;
	my $port = free_port();
	my $dir = "$TMPDIR/q3-$tag";
	mkdir($dir);
	my $ctl = "$dir/ctl";
	my $conf = write_file("$dir/q3.conf", <<"END");
[clusterd]
workers = 2
control = $ctl
[socket:http]
listen = 127.0.0.1:$port
[program]
command = $PYTHON3 $script
END
	my $c = start_clusterd(args => ['-c', $conf]);
	ok(wait_settled($ctl, 2), "$tag: 2 of 2 workers ready");
	is(http_get('127.0.0.1', $port), "hello from relisten\n", "$tag: the python workers answer");
	ok(wait_for(sub { (ss_tcp1($port) // {})->{limit} == 100 }, 5, 'Send-Q 100'),
	    "$tag: ss: the workers' listen(100) set the limit to 100");
	my ($ss, $st) = status_between($ctl, sub { ss_tcp1($port) });
	my $q = sock_named($st, 'http')->{queue} // {};
	is($q->{limit}, 100, "$tag: status --json: limit 100") or diag(fig($q));
	is($q->{limit}, ($ss // {})->{limit}, "$tag: status --json: limit = ss Send-Q");
	my ($code, $out, $err) = clusterctl($ctl, 'status');
	like($out, qr{^http\s.*\s0/100\s}m, "$tag: text status: http QUEUE 0/100") or diag($out);
	# Status has shown the 100: clusterd has seen it, so it has warned.
	my $any = qr/^clusterd: socket http: its queue limit is 100\b.*$/m;
	ok($c->wait_log($any), "$tag: log: a warning \"socket http: its queue limit is 100, ...\" "
	    . 'once status shows the limit 100');
	ctl_status($ctl) for 1 .. 3;
	stop_ok($c, $tag);
	# Whenever it came: its words, and only once (both workers called
	# listen(100), status was asked 5 times).
	my $want = "clusterd: socket http: its queue limit is 100, not the $default_limit clusterd "
	    . 'set: a worker called listen() on it again' . ($hint ? " ($hint)" : '');
	my @lines = grep { /queue limit is/ } split(/\n/, log_text($c));
	is($lines[0] // '(none)', $want, "$tag: the warning reads: $want");
	is(scalar(@lines), 1, "$tag: warned once");
}

SKIP: {
	skip("no $PYTHON3", 20) unless -x $PYTHON3;
	my $text = <<'END';
# listen(100) on the inherited socket, as hypercorn does, then serve;
# half a second after the start, as a server that loads its app first
import os, socket, time
time.sleep(0.5)
s = socket.socket(fileno=3)
s.listen(100)
body = b"hello from relisten\n"
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
              % len(body) + body)
    c.close()
END
	mkdir("$TMPDIR/bin");
	relisten('relisten', write_file("$TMPDIR/relisten.py", $text));
	relisten('hypercorn', write_file("$TMPDIR/bin/hypercorn", $text),
	    "hypercorn: --backlog $default_limit");
}

# Accepted connections still open on the port, as the kernel counts them:
# hello (no HELLO_SERIAL) takes all at once and answers each after 3 s,
# then closes it (the requests say Connection: close).
{
	my $port = free_port();
	my $conf = write_file("$TMPDIR/open.conf", "[clusterd]\nworkers = 2\n"
	    . "control = $TMPDIR/open.sock\n[socket:http]\nlisten = 127.0.0.1:$port\n"
	    . "[program]\ncommand = $HELLO\n[env]\nHELLO_DELAY_MS = 3000\n");
	my $c = start_clusterd(args => ['-c', $conf]);
	ok($c->wait_log(qr/2 workers ready/m), 'connections: 2 workers ready');
	my $sock = sub { (ctl_status("$TMPDIR/open.sock") // {})->{sockets}[0] // {} };
	is($sock->()->{connections}, 0, 'connections: 0 open at first');
	my @held = open_tcp($port, 7);
	is(scalar(@held), 7, 'connections: 7 opened, each with a request');
	ok(wait_for(sub { ($sock->()->{connections} // -1) == 7 }, 5, '7 open'),
	    'connections: status says 7 accepted and open') or diag(explain($sock->()));
	is($sock->()->{queue}{depth}, 0, 'connections: and none waits in the queue');
	ok(wait_for(sub { ($sock->()->{connections} // -1) == 0 }, 10, '0 open'),
	    'connections: 0 once they are answered and closed');
	close($_) for @held;
	stop_ok($c, 'connections');
}

done_testing();
