# Several clusterds started at once on one control socket path, or on one
# unix: listening path: the lock file beside the socket (PATH.lock) lets
# exactly one win; the others exit 2 and say why. A socket file and lock
# left by a SIGKILLed clusterd are taken over by the next one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use Fcntl qw(:flock);

my $ROUNDS = 5;
my $N = 6;

# Start $N clusterds at once with the arguments $args->($i); wait until all
# but one have exited. Returns the one left (undef if not exactly one) and
# the ones that exited.
sub race {
	my ($args) = @_;
	my @c = map { start_clusterd(args => $args->($_)) } 1 .. $N;
	my @done;
	wait_for(sub {
		# A zombie has exited: reaping it is then immediate.
		@done = grep { exists $_->{code} || (!alive($_->pid) && defined wait_exit($_)) } @c;
		return @done >= $N - 1;
	}, 10, "$N - 1 of $N clusterds to exit");
	my @left = grep { !exists $_->{code} } @c;
	return (@left == 1 ? $left[0] : undef, \@done, \@left);
}

sub stop {
	for my $c (@_) {
		kill TERM => $c->pid;
		is(wait_exit($c, 10), 0, 'the winner stops: exit 0');
	}
}

# --- the control socket (-s PATH) ---
my $ctl = "$TMPDIR/ctl.sock";
for my $r (1 .. $ROUNDS) {
	my ($win, $lost, $left) = race(sub {
		['-n', 1, '-l', '127.0.0.1:0', '-s', $ctl, '--', $HELLO] });
	ok($win, "control path, round $r: exactly one of $N runs")
	    or diag(scalar(@$left) . ' left');
	my @bad = grep { $_->{code} != 2 || $_->log_text !~
	    /^clusterd: control socket \Q$ctl\E: in use by another clusterd$/m } @$lost;
	is(scalar(@bad), 0, "round $r: the others exit 2: control socket PATH: in use by another clusterd")
	    or diag(map { "exit $_->{code}: " . $_->log_text } @bad);
	my $st = $win && wait_for(sub { ctl_status($ctl) }, 5, 'status');
	is($st && $st->{pid}, $win && $win->pid, "round $r: the socket answers for the one that runs");
	stop(@$left);
	ok(!-e $ctl && !-e "$ctl.lock", "round $r: socket and lock removed at exit");
}

# A SIGKILLed clusterd leaves its socket and lock behind: taken over.
my $c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '-s', $ctl, '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: 1 worker ready$/m), 'a clusterd on the control path');
kill KILL => $c->pid;
wait_exit($c);
ok(-S $ctl && -f "$ctl.lock", 'SIGKILLed: its socket and lock are left');
my ($win, $lost, $left) = race(sub {
	['-n', 1, '-l', '127.0.0.1:0', '-s', $ctl, '--', $HELLO] });
ok($win, "the stale control socket: exactly one of $N takes it over");
my $st = $win && wait_for(sub { ctl_status($ctl) }, 5, 'status');
is($st && $st->{pid}, $win && $win->pid, 'and answers on it');
stop(@$left);

# The lock alone decides, even before the winner's socket exists (the
# window between another clusterd's bind and listen, where a probe by
# connect() saw a stale socket and unlinked it).
sub held_lock {
	my ($p) = @_;
	open(my $fh, '>', "$p.lock") or die "$p.lock: $!";
	flock($fh, LOCK_EX) or die "flock: $!";
	return $fh;
}
{
	my $lock = held_lock($ctl);
	$c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '-s', $ctl, '--', $HELLO]);
	is(wait_exit($c), 2, 'a held PATH.lock and no socket: exit 2');
	like($c->log_text, qr/^clusterd: control socket \Q$ctl\E: in use by another clusterd$/m,
	    'in use by another clusterd');
	ok(!-e $ctl, 'no socket made');
}

# --- a unix: listening socket ---
my $path = "$TMPDIR/app.sock";
for my $r (1 .. $ROUNDS) {
	my ($win, $lost, $left) = race(sub {
		['-n', 1, '-l', "unix:$path", '-s', "$TMPDIR/ctl-$r-$_[0].sock", '--', $HELLO] });
	ok($win, "unix: path, round $r: exactly one of $N runs")
	    or diag(scalar(@$left) . ' left');
	my @bad = grep { $_->{code} != 2 || $_->log_text !~
	    /^clusterd: unix:\Q$path\E: Address already in use$/m } @$lost;
	is(scalar(@bad), 0, "round $r: the others exit 2: unix:PATH: Address already in use")
	    or diag(map { "exit $_->{code}: " . $_->log_text } @bad);
	my $pid = $win && wait_for(sub { (http_get_unix($path) // '') =~ /pid (\d+)/ && $1 }, 5,
	    'an answer on the socket');
	my @w = $win ? worker_pids($win->pid) : ();
	ok($pid && grep({ $_ == $pid } @w), "round $r: the winner's worker answers on it");
	stop(@$left);
	ok(!-e $path && !-e "$path.lock", "round $r: socket and lock removed at exit");
}

{
	my $lock = held_lock($path);
	$c = start_clusterd(args => ['-n', 1, '-l', "unix:$path", '-s', "$TMPDIR/ctl-l.sock",
	    '--', $HELLO]);
	is(wait_exit($c), 2, 'unix: a held PATH.lock and no socket: exit 2');
	like($c->log_text, qr/^clusterd: unix:\Q$path\E: Address already in use$/m,
	    'Address already in use');
	ok(!-e $path, 'no socket made');
}

$c = start_clusterd(args => ['-n', 1, '-l', "unix:$path", '-s', "$TMPDIR/ctl-k.sock",
    '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: 1 worker ready$/m), 'a clusterd on the unix: path');
my @w = worker_pids($c->pid);
kill KILL => $c->pid;
wait_exit($c);
# Its worker holds the socket until the parent-death signal ends it.
ok(wait_for(sub { !grep { alive($_) } @w }, 10, 'its worker to end'), 'SIGKILLed, and its worker gone');
ok(-S $path && -f "$path.lock", 'its socket and lock are left');
($win, $lost, $left) = race(sub {
	['-n', 1, '-l', "unix:$path", '-s', "$TMPDIR/ctl-s-$_[0].sock", '--', $HELLO] });
ok($win, "the stale unix: socket: exactly one of $N takes it over");
ok($win && wait_for(sub { (http_get_unix($path) // '') =~ /pid/ }, 5, 'an answer'),
    'and answers on it');
stop(@$left);

done_testing();
