# The control socket: mode 0600, a stale file replaced, a live one refused,
# removed at exit; another uid refused (SO_PEERCRED); bad requests get
# code 2; silent, partial and many clients never block anyone, and a silent
# one is dropped after 10 s.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use File::Temp qw(tempdir);
use IO::Select;
use JSON::PP;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time);

my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '-s', $ctl,
    '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m), '2 workers ready');
ok(wait_for(sub { -S $ctl }, 5), 'the control socket exists');
is(sprintf('%o', (stat($ctl))[2] & 07777), '600', 'its mode is 0600');

sub connect_ctl { IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ctl) }

# A client that says nothing, one that sends half a line.
my $silent = connect_ctl();
my $partial = connect_ctl();
my $t_silent = time();
ok($silent && $partial, 'a silent and a partial client connected');
syswrite($partial, 'sta') if $partial;

my $t0 = time();
my ($code, $msg, $body) = ctl_request($ctl, "status\n", 5);
my $took = time() - $t0;
is($code, 0, 'status: code 0 while those two wait');
cmp_ok($took, '<', timeout(1), sprintf('answered at once (%.3fs)', $took));
like($body // '', qr/\Aclusterd \(pid ${\ $c->pid}\), up /, 'status: the text body');
($code, $msg, $body) = ctl_request($ctl, "status json\n", 5);
is($code, 0, 'status json: code 0');
ok(eval { JSON::PP::decode_json($body // '') }, 'status json: the body is JSON')
    or diag($body);
SKIP: {
	skip('no clusterctl', 2) unless -x $CLUSTERCTL;
	$t0 = time();
	my ($cc) = clusterctl($ctl, 'status');
	is($cc, 0, 'clusterctl status exits 0 while the silent client waits');
	cmp_ok(time() - $t0, '<', timeout(1), 'and at once');
}

# Bad requests: code 2.
($code, $msg) = ctl_request($ctl, "hello there\n", 5);
is($code, 2, 'garbage: code 2');
like($msg // '', qr/^unknown command "hello\b/, 'garbage: unknown command "hello..."');
($code, $msg) = ctl_request($ctl, "\x01\xff\x00\x7f junk\n", 5);
is($code, 2, 'binary garbage: code 2');
like($msg // '', qr/^unknown command/, 'binary garbage: unknown command');
($code) = ctl_request($ctl, "\n", 5);
is($code, 2, 'an empty line: code 2');
($code, $msg) = ctl_request($ctl, ('x' x 2000) . "\n", 5);
is($code, 2, '2001 bytes: code 2');
is($msg, 'request too long', '2001 bytes: request too long');
$t0 = time();
($code, $msg) = ctl_request($ctl, 's' x 1500, 5);
is($msg, 'request too long', '1500 bytes and no newline: request too long');
cmp_ok(time() - $t0, '<', timeout(2), 'without waiting for the newline');
($code, $msg) = ctl_request($ctl, "status " . ('a' x 1100) . "\n", 5);
is($code, 2, 'status with an over-long argument: code 2');

# Each bad argument is named; clusterctl refuses the same ones before it
# connects, with the same words (both ends share src/ctlproto.c).
my @bad = (
	["scale", [], qr/^scale: missing argument$/],
	["scale x9", ['x9'], qr/^scale: bad number "x9" \(0-100000, or a range MIN\.\.MAX from 1, MIN below MAX\)$/],
	["scale 100001", ['100001'], qr/^scale: bad number "100001"/],
	["scale 3 4", [3, 4], qr/^scale: unexpected argument "4"$/],
	["stop now", ['now'], qr/^stop: unexpected argument "now"$/],
	["status xml", ['xml'], qr/^status: unexpected argument "xml"/],
	["signal", [], qr/^signal: missing argument$/],
	["signal NOPE", ['NOPE'], qr/^signal: unknown signal "NOPE"$/],
	["signal USR1 1000001", ['USR1', 1000001],
	    qr/^signal: bad worker id "1000001" \(0-1000000\)$/],
	["signal USR1 -1", ['USR1', -1], qr/^signal: bad worker id "-1"/],
	["signal \x1b[31m", ["\x1b[31m"], qr/^signal: unknown signal "\?\[31m"$/],
);
for my $b (@bad) {
	my ($line, $args, $re) = @$b;
	(my $name = $line) =~ s/[^ -~]/?/g;
	($code, $msg) = ctl_request($ctl, "$line\n", 5);
	is($code, 2, "\"$name\": code 2");
	like($msg // '', $re, "\"$name\": the message names it");
	SKIP: {
		skip('no clusterctl', 2) unless -x $CLUSTERCTL;
		my ($cc, $out, $err) = clusterctl('/nonexistent/ctl.sock',
		    (split / /, $line)[0], @$args);
		is($cc, 2, "clusterctl $name: exit 2, without connecting");
		my ($first) = ($err // '') =~ /^clusterctl: (.*)$/m;
		like($first // '', $re, "clusterctl $name: the same message");
	}
}
($code, $msg) = ctl_request($ctl, "signal\tSIGWINCH\t0\r\n", 5);
is($code, 0, 'tabs and CR LF are fine: signal SIGWINCH 0') or diag($msg);

# 50 clients at once, all answered.
my @socks = grep { defined } map { connect_ctl() } 1 .. 50;
is(scalar(@socks), 50, '50 clients connected');
syswrite($_, "status\n") for @socks;
my %buf;
my $sel = IO::Select->new(@socks);
my $deadline = time() + timeout(10);
while ($sel->count && time() < $deadline) {
	for my $s ($sel->can_read($deadline - time())) {
		my $n = sysread($s, $buf{$s}, 65536, length($buf{$s} // ''));
		$sel->remove($s) unless $n;
	}
}
is(scalar(grep { ($buf{$_} // '') =~ /\A0 .*\nclusterd \(pid/s } @socks), 50,
    '50 concurrent clients: every one got its status');
close($_) for @socks;

# Another uid: refused by SO_PEERCRED (the file mode would stop it first,
# so the test opens the file up).
SKIP: {
	skip('needs root to switch to nobody', 6) if $> != 0;
	skip('no setpriv', 6) unless -x '/usr/bin/setpriv';
	my @nobody = ('/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup',
	    '--clear-groups');
	# A copy nobody can run wherever the checkout is.
	local $CLUSTERCTL = (public_copies($CLUSTERCTL))[0];
	my $pub = tempdir('clusterd-pub-XXXXXX', TMPDIR => 1, CLEANUP => 1);
	chmod(0755, $pub);
	my $pctl = "$pub/ctl.sock";
	my $p = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '-s',
	    $pctl, '--', $HELLO]);
	ok(wait_for(sub { -S $pctl }, 5), 'a control socket in a public directory');
	my $client = 'use IO::Socket::UNIX; use IO::Select;'
	    . ' my $s = IO::Socket::UNIX->new(Type => 1, Peer => $ARGV[0])'
	    . ' or do { print "connect: $!\n"; exit 0 };'
	    . ' syswrite($s, "status\n"); my $b = ""; my $sel = IO::Select->new($s);'
	    . ' while ($sel->can_read(5)) { sysread($s, $b, 65536, length $b) or last }'
	    . ' print "answer: $b";';
	my $as_nobody = sub {
		open(my $fh, '-|', @nobody, $^X, '-e', $client, $pctl)
		    or return "cannot run: $!";
		local $/;
		my $out = <$fh>;
		close($fh);
		return $out // '';
	};
	like($as_nobody->(), qr/^connect: Permission denied/,
	    'nobody cannot even connect to the 0600 socket');
	chmod(0666, $pctl);
	is($as_nobody->(), "answer: 1 permission denied\n",
	    'with the file opened up, nobody gets "1 permission denied" and is closed');
	my ($cc, $out, $err) = run_clusterctl(prefix => \@nobody,
	    args => ['-s', $pctl, 'status']);
	is($cc, 1, 'clusterctl as nobody: exit 1');
	like($out . $err, qr/permission denied/, 'clusterctl as nobody: permission denied');
	($code) = ctl_request($pctl, "status\n", 5);
	is($code, 0, 'root (or the same uid) is still answered');
	kill TERM => $p->pid;
	is(wait_exit($p), 0, 'exit 0');
}

# A stale socket file is replaced; a live one is an error (exit 2).
my $stale = "$TMPDIR/stale.sock";
{
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $stale,
	    Listen => 1);
	close($s);
}
ok(-S $stale, 'a stale socket file');
my $c2 = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '-s', $stale,
    '--', $HELLO]);
ok(wait_for(sub { my ($x) = ctl_request($stale, "status\n", 2); defined $x }, 5),
    'clusterd replaced the stale socket and answers on it');
my ($c3code, undef, $c3err) = run_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0',
    '-s', $stale, '--', $HELLO]);
is($c3code, 2, 'a second clusterd on a live control socket: exit 2');
like($c3err, qr/\Q$stale\E/, 'and it names the socket') or diag($c3err);
($code) = ctl_request($stale, "status\n", 5);
is($code, 0, 'the first one still answers');
kill TERM => $c2->pid;
is(wait_exit($c2), 0, 'exit 0');
ok(!-e $stale, 'the control socket is removed at exit');

# A socket whose owner accepts nothing (a hung clusterd: its backlog full,
# so a blocking connect would wait forever): a new clusterd must neither
# hang nor take the socket over.
my $hung = "$TMPDIR/hung.sock";
my $owner = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $hung,
    Listen => 1);
my $hung_ino = (stat($hung))[1];
my @queued;
for (1 .. 8) {
	my $q = IO::Socket::UNIX->new(Type => SOCK_STREAM);
	$q->blocking(0);
	last unless connect($q, Socket::pack_sockaddr_un($hung));
	push(@queued, $q);
}
$t0 = time();
my ($hcode, undef, $herr, $hc) = run_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0',
    '-s', $hung, '--', $HELLO], timeout => 8);
ok(defined $hcode, sprintf('a hung owner of the control socket: clusterd does not hang (%.1fs)',
    time() - $t0));
is($hcode, 2, 'it exits 2, as for a live one') or diag($herr);
kill(KILL => $hc->pid) unless defined $hcode;
ok(-S $hung && (stat($hung))[1] == $hung_ino, 'the socket file is left to its owner');
close($_) for @queued;
close($owner);

# The silent client is dropped after 10 s; so is the partial one.
ok($silent && IO::Select->new($silent)->can_read(timeout(13) - (time() - $t_silent)),
    'the silent client is disconnected');
my $after = time() - $t_silent;
cmp_ok($after, '>', 9, sprintf('after about 10s (%.1fs)', $after));
my $eof = 0;
while ($silent && IO::Select->new($silent)->can_read(1)) {
	my $n = sysread($silent, my $x, 100);
	$eof = 1, last if defined $n && $n == 0;
	last unless $n;
}
ok($eof, 'the server closed the connection');
ok($partial && IO::Select->new($partial)->can_read(1), 'the partial client too');
ok(alive($c->pid), 'clusterd runs');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(!-e $ctl, 'the control socket is removed at exit');

done_testing();
