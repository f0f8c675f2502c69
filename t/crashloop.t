# A crash loop: one slot's worker exits at once, over and over. Its starts
# follow the backoff schedule, clusterd's CPU stays under 1% of the wall
# time, the log does not flood, and the other slots never notice.
#
# Time is scaled by 1/5 so the test takes 12 s, not the issue's 60 s:
# backoff_initial 20ms, backoff_max 6s and stable_after 2s here are the
# defaults 100ms, 30s and 10s divided by 5, so the 12 s window sees the
# same schedule, and the same number of starts (11), as 60 s at the
# defaults: now, now, 20ms, 40ms, ... 5.12s (then 6s, past the window).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use Time::HiRes qw(time sleep);

my $WINDOW = 12;

sub secs {
	my ($n, $unit) = @_;
	return $unit eq 'ms' ? $n / 1000 : $n;
}

my $conf = write_file("$TMPDIR/crashloop.conf", <<'END');
[clusterd]
workers = 3
[program]
# slot 0 exits at once; slots 1 and 2 run
command = /bin/sh -c 'test "$CLUSTERD_WORKER_ID" = 0 && exit 1; exec sleep 1000'
backoff_initial = 20ms
backoff_max = 6s
stable_after = 2s
END
my $c = start_clusterd(args => ['-c', $conf, '-l', 'none']);
my @others = wait_workers($c->pid, 2, 5, 'sleep');
is(scalar(@others), 2, 'slots 1 and 2 run');
my $t0 = time();
my $cpu0 = proc_cpu($c->pid);
ok(defined $cpu0, 'clusterd\'s CPU time is readable');

# Watch for the window, checking that clusterd stays responsive.
my $responsive = 1;
while (time() - $t0 < timeout($WINDOW)) {
	sleep(0.5);
	$responsive = 0 unless alive($c->pid);
}
my $wall = time() - $t0;
my $cpu = proc_cpu($c->pid) - $cpu0;
ok($responsive && alive($c->pid), 'clusterd ran through the crash loop');
my $log = log_text($c);

# Starts of slot 0 and the delays it logged.
my @starts = $log =~ /^clusterd: worker 0 \(pid \d+\) started$/mg;
my @delays = map { /restarting (now|in ([\d.]+)(ms|s))$/ ? ($1 eq 'now' ? 0 : secs($2, $3)) : () }
    grep { /worker 0 / } split(/\n/, $log);
diag(sprintf('%d starts of slot 0 in %.1fs; delays: %s', scalar(@starts), $wall,
    join(' ', @delays)));
my @want = (0, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12);
is_deeply([@delays[0 .. $#want]], \@want,
    'delays: now, 20ms doubling to 5.12s') or diag("delays: @delays");
ok(!grep({ $_ > 6 + 1e-9 } @delays), 'never longer than backoff_max');
# When the schedule starts slot 0: 0, 0, 0.02, 0.06, ... 10.22, then
# every 6 s; the 11th start comes 10.22 s in, the 12th at 16.22 s.
my @at = (0);
my $d = 0;
for my $i (1 .. 100) {
	push(@at, $at[-1] + $d);
	$d = $d == 0 ? 0.02 : $d * 2 > 6 ? 6 : $d * 2;
}
my $expect = grep { $_ <= $wall } @at;
cmp_ok(scalar(@starts), '>=', $expect - 1, "about $expect starts in ${\ int($wall)}s (at least)");
cmp_ok(scalar(@starts), '<=', $expect + 1, 'and at most one more: the schedule, not a busy loop');

# CPU: at most 1% of the wall time.
diag(sprintf('clusterd CPU: %.3fs in %.1fs (%.2f%%)', $cpu, $wall, 100 * $cpu / $wall));
cmp_ok($cpu, '<=', 0.01 * $wall, 'clusterd CPU <= 1% of wall time');

# The log: a line or two per death, no flood.
my @lines = split(/\n/, $log);
diag(scalar(@lines) . ' log lines');
cmp_ok(scalar(@lines), '<=', 3 * @starts + 10, 'log lines bounded by the starts');
ok(!grep({ !/^clusterd: / } @lines), 'nothing but clusterd\'s own lines')
    or diag(join("\n", grep { !/^clusterd: / } @lines));

# The other slots: same pids, never died.
my @now = grep { (proc_stat($_) // {})->{comm} eq 'sleep' } live_workers($c->pid);
is_deeply([sort { $a <=> $b } @now], [sort { $a <=> $b } @others],
    'slots 1 and 2 kept their workers');
ok(!$c->log_matches(qr/worker [12] \(pid \d+\) (?:exited|killed)/),
    'slots 1 and 2 never died');

# Still answers the control socket... and stops at once while backing off.
my $t1 = time();
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: exit 0');
cmp_ok(time() - $t1, '<', timeout(3), 'promptly, not after the backoff');

done_testing();
