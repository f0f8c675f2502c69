# Starting a worker when descriptors run short (issue 11 §4).
#
# 1. Under a low hard RLIMIT_NOFILE, with log_prefix (two pipes per worker
#    besides the notify socket and the exec report pipe), starts fail at
#    every step in turn: the test takes clusterd's last free descriptors
#    one by one with idle control connections, so that each of the socket,
#    pipe and clone steps is the one that fails at some point. Each
#    failure must fail that start alone, with a line saying which step and
#    why, and touch no descriptor that is not the start's own: clusterd's
#    stdin (a file with a marker line) is never read nor closed (it was:
#    a failed first output pipe left the second output's fd at 0, which
#    clusterd then read and closed). Once the limit is raised, every slot
#    gets its worker.
# 2. --reuseport with more workers than the workers' soft RLIMIT_NOFILE:
#    clusterd holds one socket per slot, so its table runs past the
#    workers' limit; a worker still starts (the limit is set last, once
#    the child's descriptors are in place) and gets that soft limit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Test::More;
use Clusterd;

my $PRLIMIT = '/usr/bin/prlimit';
plan(skip_all => 'prlimit (util-linux) is not installed') unless -x $PRLIMIT;

my $marker = write_file("$TMPDIR/stdin.txt", "STDIN-MARKER\n");

# clusterd under prlimit, its stdin the marker file; prlimit and sh exec,
# so the pid is clusterd's.
sub start_limited {
	my ($limit, @args) = @_;
	return start_clusterd(binary => '/bin/sh',
	    args => ['-c', 'exec "$0" "$@" <"$MARKER"', $PRLIMIT,
		"--nofile=$limit", '--', $CLUSTERD, @args],
	    env => { MARKER => $marker });
}

sub count_emfile { scalar(() = log_text($_[0]) =~ /Too many open files/g) }

{
	my $n = 12;
	my $ctl = "$TMPDIR/emfile.sock";
	my $conf = write_file("$TMPDIR/emfile.conf", <<"END");
[clusterd]
workers = 0
log_prefix = yes
[program]
command = sleep 1000
backoff_initial = 20ms
backoff_max = 100ms
END
	# clusterd raises its soft limit to the hard one at start; lower it
	# again from outside (raising a hard limit would need privilege).
	my $c = start_limited('4096:4096', '-c', $conf, '-l', 'none', '-s', $ctl);
	ok(wait_log($c, qr/no workers to start/, 5), 'clusterd runs, no worker yet');
	is(system($PRLIMIT, '--pid', $c->pid, '--nofile=40:4096'), 0, 'its soft limit lowered to 40');
	my ($code) = ctl_request($ctl, "scale $n\n", 5);
	is($code, 0, "scale $n");
	ok(wait_log($c, qr/Too many open files/, 10), 'starts fail for lack of descriptors');
	# Take the free descriptors one at a time; each time let a few starts
	# fail at the new spot.
	my @conns;
	for my $k (1 .. 8) {
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ctl);
		push(@conns, $s) if $s;
		my $seen = count_emfile($c);
		wait_for(sub { count_emfile($c) >= $seen + 3 || !alive($c->pid) }, 5,
		    "3 more failed starts after $k connections");
	}
	ok(alive($c->pid), 'clusterd runs on');
	is(readlink("/proc/${\ $c->pid}/fd/0"), $marker, 'its stdin is still the file it was given');
	my $log = log_text($c);
	unlike($log, qr/STDIN-MARKER/, 'nothing was read from its stdin');
	my @fail = $log =~ /^(clusterd: worker \d+: .*Too many open files.*)$/mg;
	ok(@fail > 0, scalar(@fail) . ' failed starts logged');
	my @bad = grep { !/^clusterd: worker \d+: cannot start: (notify socket|output pipe|exec report pipe|clone|cgroup): Too many open files$/ } @fail;
	is_deeply(\@bad, [], 'each says which step failed and why');
	my %steps = map { /cannot start: ([^:]+):/ ? ($1 => 1) : () } @fail;
	diag('steps that failed: ' . join(', ', sort keys %steps));
	ok($steps{'output pipe'}, 'the output pipes were among them');
	undef @conns;
	is(system($PRLIMIT, '--pid', $c->pid, '--nofile=4096:4096'), 0, 'the soft limit raised again');
	ok(wait_for(sub {
		my $st = ctl_status($ctl) // return 0;
		return ($st->{workers_ready} // 0) == $n;
	}, 10, "$n workers ready"), 'with room again, every slot gets its worker');
	is(readlink("/proc/${\ $c->pid}/fd/0"), $marker, 'stdin untouched at the end');
	kill('TERM', $c->pid);
	is(wait_exit($c, 10), 0, 'stops cleanly');
}

{
	my $n = 80;
	my $ctl = "$TMPDIR/reuseport.sock";
	my $port = free_port();
	my $c = start_limited('64:4096', '--reuseport', '-n', $n, '-l', "127.0.0.1:$port",
	    '-s', $ctl, '--', 'sleep', '1000');
	my $st;
	ok(wait_for(sub {
		$st = ctl_status($ctl) // return 0;
		return ($st->{workers_ready} // 0) == $n;
	}, 20, "$n workers ready"), "--reuseport: $n workers run with a soft limit of 64");
	unlike(log_text($c), qr/Too many open files|cannot set up/, 'no start failed');
	my @restarted = grep { $_->{restarts} } @{ $st->{workers} // [] };
	is(scalar(@restarted), 0, 'no slot restarted');
	my ($pid) = (map { $_->{pid} } grep { $_->{id} == $n - 1 } @{ $st->{workers} // [] }), 0;
	my $limits = slurp("/proc/$pid/limits") // '';
	like($limits, qr/^Max open files\s+64\s+4096\s/m, 'the worker has the soft limit clusterd was given');
	# (sleep opens its locale files for a moment as it starts)
	my $fds;
	wait_for(sub {
		$fds = proc_fds($pid) // {};
		return join(',', sort { $a <=> $b } keys %$fds) eq '0,1,2,3';
	}, 5, 'the worker to have fds 0-3');
	is_deeply([sort { $a <=> $b } keys %$fds], [0, 1, 2, 3], 'and fds 0-3 only')
	    or diag(join(', ', map { "$_ -> $fds->{$_}" } sort keys %$fds));
	kill('TERM', $c->pid);
	is(wait_exit($c, 20), 0, 'stops cleanly');
}

done_testing();
