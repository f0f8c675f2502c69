# Durations are measured on the monotonic clock: a step of the wall clock
# (an hour back, an hour forward) while clusterd runs changes neither
# whether a death was quick (stable_after) nor the uptimes status shows;
# only the "started" date follows the wall clock. clusterd's wall clock is
# moved through t/lib/clockshift.so (LD_PRELOAD), never the machine's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC time);
use Clusterd;

my $lib = "$TOP_BUILDDIR/t/lib/clockshift.so";
BAIL_OUT("$lib is not built (make check builds it: t/tests.mk)") unless -e $lib;

sub mono { clock_gettime(CLOCK_MONOTONIC) }

# One slot whose first worker exits at once (a quick death: streak 1,
# restarted now) and whose second one sleeps until killed.
sub start_pool {
	my ($name, $stable_after) = @_;
	my $ctl = "$TMPDIR/$name.sock";
	my $flag = "$TMPDIR/$name.flag";
	my $shift = write_file("$TMPDIR/$name.shift", "0\n");
	my $conf = write_file("$TMPDIR/$name.conf", <<"END");
[clusterd]
workers = 1
control = $ctl
[program]
command = /bin/sh -c "if [ -e $flag ]; then exec /bin/sleep 1000; fi; : > $flag; exit 1"
stable_after = $stable_after
backoff_initial = 5s
END
	my $c = start_clusterd(args => ['-c', $conf],
	    env => { LD_PRELOAD => $lib, CLOCKSHIFT_FILE => $shift });
	my $t0 = mono();
	ok($c->wait_log(qr/^clusterd: worker 0 \(pid \d+\) exited with status 1; restarting now$/m),
	    "$name: a quick death first, restarted now");
	my $pid = wait_for(sub { (live_workers($c->pid, 'sleep'))[0] }, 5, 'the sleeping worker');
	ok($pid, "$name: the second worker runs");
	return ($c, $ctl, $shift, $pid, $t0);
}

# Step clusterd's wall clock by $secs, and give its loop the time to see
# it: libev reads the wall clock again once 0.5 s have passed on the
# monotonic clock, so ev_now() (which the old code measured with) has
# moved by the time the test looks.
sub step {
	my ($shift, $secs) = @_;
	write_file($shift, "$secs\n");
	my $t = mono();
	wait_for(sub { mono() - $t >= 0.6 }, 2, 'libev to read the wall clock');
}

# Uptimes from status (JSON and text) are within [low, high] seconds; the
# started date is the wall clock clusterd sees (ours + $offset) minus the
# uptime.
sub check_status {
	my ($name, $ctl, $pid, $low, $high, $sup_high, $offset) = @_;
	my $st = ctl_status($ctl);
	my ($w) = grep { ($_->{pid} // 0) == $pid } @{ $st->{workers} // [] };
	ok($w, "$name: status shows the worker") or return;
	my $up = $w->{uptime};
	ok($up >= $low && $up <= $high, "$name: its uptime ${up}s is in [$low, $high]");
	my $sup = $st->{uptime};
	ok($sup >= $up && $sup <= $sup_high,
	    "$name: clusterd's uptime ${sup}s is in [$up, $sup_high]");
	my $seen = $w->{started} + $up - (time() + $offset);
	ok(abs($seen) < 5, "$name: started + uptime is clusterd's wall clock "
	    . "(ours ${offset}s), off by ${seen}s: the step reached clusterd");
	my ($code, $out) = clusterctl($ctl, 'status');
	my ($text) = $out =~ /^0\s+$pid\s+\S+\s+\S+\s+(\S+)/m;
	like($text // '', qr/^\d+s$/, "$name: status text: uptime "
	    . ($text // 'missing') . ', seconds, not negative or hours');
}

# An hour back after the worker lived past stable_after: its death is not
# a quick one, so the slot restarts at once.
my ($c, $ctl, $shift, $pid, $t0) = start_pool('back', '1s');
my $born = mono();
ok(wait_for(sub { my $st = ctl_status($ctl);
    $st && $st->{workers}[0] && ($st->{workers}[0]{uptime} // 0) >= 1.5 }, 10,
    'the worker to live 1.5s'), 'back: the worker lives past stable_after (1s)');
step($shift, -3600);
check_status('back', $ctl, $pid, 1.5, mono() - $born + 2, mono() - $t0 + 2, -3600);
kill KILL => $pid;
ok($c->wait_log(qr/^clusterd: worker 0 \(pid $pid\) killed by signal 9; (restarting \S+ ?\S*)$/m),
    'back: the death is logged');
my ($how) = $c->log_matches(qr/\(pid $pid\) killed by signal 9; (restarting \S+ ?\S*)$/m);
is($how, 'restarting now', 'back: after living past stable_after: restarting now, '
    . 'not a quick death');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'back: exit 0');

# An hour forward while the worker is young (stable_after 30s): its death
# is a quick one (the second in a row: backoff_initial), and its uptime
# is seconds, not an hour.
($c, $ctl, $shift, $pid, $t0) = start_pool('forward', '30s');
$born = mono();
step($shift, 3600);
check_status('forward', $ctl, $pid, 0, mono() - $born + 2, mono() - $t0 + 2, 3600);
kill KILL => $pid;
ok($c->wait_log(qr/^clusterd: worker 0 \(pid $pid\) killed by signal 9; restarting/m),
    'forward: the death is logged');
($how) = $c->log_matches(qr/\(pid $pid\) killed by signal 9; (restarting \S+ ?\S*)$/m);
is($how, 'restarting in 5s', 'forward: a young worker: a quick death, restarting in 5s');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'forward: exit 0');

done_testing();
