# A crash loop: one slot's worker exits at once, over and over. Its starts
# follow the backoff schedule, clusterd's CPU stays under 1% of the wall
# time, it answers `clusterctl status` promptly all along, the log does
# not flood, the other slots never notice, and SIGTERM in the middle of a
# long backoff stops it at once.
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
use JSON::PP ();
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
my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['-c', $conf, '-l', 'none', '-s', $ctl]);
my @others = wait_workers($c->pid, 2, 5, 'sleep');
is(scalar(@others), 2, 'slots 1 and 2 run');
my $t0 = time();
my $cpu0 = proc_cpu($c->pid);
ok(defined $cpu0, 'clusterd\'s CPU time is readable');

# Watch for the window, asking for the status twice a second. Each answer
# must come within $ANSWER s (less than the longer backoffs, so a clusterd
# that waited out a backoff in its loop, or stalled, would miss it; timed
# on a plain connection, as clusterctl's own start-up is slow under the
# sanitizers) and show the crash loop as it is: slot 0 restarting, its
# count going up, slots 1 and 2 ready; and clusterctl status says the
# same. (The sleep paces the questions; the answers are what is checked.)
my $ANSWER = timeout(1) < 2.5 ? timeout(1) : 2.5;
my ($asked, $answered, $slowest, $restarts, $bad) = (0, 0, 0, 0, undef);
my $next = $t0;
while (time() - $t0 < timeout($WINDOW)) {
	my $t = time();
	my ($code, $msg, $body) = ctl_request($ctl, "status json\n", 10);
	my $took = time() - $t;
	$asked++;
	$slowest = $took if $took > $slowest;
	my $st = defined $body ? eval { JSON::PP::decode_json($body) } : undef;
	my %w = map { ($_->{id} => $_) } @{ ($st // {})->{workers} // [] };
	my ($ccode, $out, $err) = run_clusterctl(args => ['-s', $ctl, 'status'], timeout => 10);
	# (slot 0 is ready for the few ms between its exec and its exit)
	if ($took < $ANSWER && defined $code && ($code == 3 || $code == 0) && keys(%w) == 3
	    && ($w{1}{state} // '') eq 'ready' && ($w{2}{state} // '') eq 'ready'
	    && ($w{0}{restarts} // -1) >= $restarts
	    && defined $ccode && ($ccode == 3 || $ccode == 0)
	    && $out =~ /^clusterd \(pid \d+\), up .*, [23] of 3 workers ready$/m) {
		$answered++;
		$restarts = $w{0}{restarts};
	} else {
		$bad //= sprintf("after %.1fs: %s in %.2fs; clusterctl status: exit %s:\n%s%s",
		    $t - $t0, defined $code ? "\"$code $msg\"" : 'no answer', $took, $ccode // 'none',
		    $out // '', $err // '');
	}
	$next += 0.5;
	my $left = $next - time();
	sleep($left) if $left > 0;
}
my $wall = time() - $t0;
my $cpu = proc_cpu($c->pid) - $cpu0;
diag(sprintf('status: %d of %d answers right, the slowest in %.3fs; slot 0 restarted %d times',
    $answered, $asked, $slowest, $restarts));
cmp_ok($asked, '>=', 6, 'status asked all through the crash loop');
is($answered, $asked, "status answered each time within ${ANSWER}s, with the crash loop as it is")
    or diag("the first wrong answer, $bad");
cmp_ok($restarts, '>=', 8, 'status saw slot 0 restart (its RESTARTS count)');
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

# CPU: at most 1% of the wall time. What the schedule costs is per start
# (a fork, an exec, a reap: about 0.01 s for the 11 starts here, 0.02 s
# under ASan), so the budget grows with CLUSTERD_TEST_SLOW, as the time
# of every step does; a busy loop costs 100% whatever the build, so the
# budget never grows past 10%.
my $share = 0.01 * $Clusterd::SLOW;
$share = 0.1 if $share > 0.1;
diag(sprintf('clusterd CPU: %.3fs in %.1fs (%.2f%%)', $cpu, $wall, 100 * $cpu / $wall));
cmp_ok($cpu, '<=', $share * $wall, sprintf('clusterd CPU <= %g%% of wall time', 100 * $share));

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

# SIGTERM in the middle of a 6 s backoff (slot 0 has just died again):
# clusterd exits within $PROMPT s, not when the backoff ends.
my $mark = length(log_text($c));
ok(wait_for(sub { substr(log_text($c), $mark) =~ /^clusterd: worker 0 .*; restarting in (?:6s|6000ms)$/m },
    timeout(7), 'slot 0 to die into a 6 s backoff'), 'slot 0 died again: 6 s until its next start');
my $PROMPT = timeout(1.5) < 4 ? timeout(1.5) : 4;
my $t1 = time();
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: exit 0');
my $took = time() - $t1;
cmp_ok($took, '<', $PROMPT, sprintf('SIGTERM during the backoff: exit in %.2fs, under %gs', $took, $PROMPT));

done_testing();
