# Crash loops back off exponentially (per slot), the count resets after
# stable_after, and clusterd stays responsive while a slot waits.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use Time::HiRes qw(time);

sub secs {
	my ($n, $unit) = @_;
	return $unit eq 'ms' ? $n / 1000 : $n;
}

my $conf = write_file("$TMPDIR/crash.conf", <<'END');
[clusterd]
workers = 1
[program]
command = /bin/sh -c "exit 1"
backoff_initial = 50ms
backoff_max = 400ms
END
my $c = start_clusterd(args => ['-c', $conf]);
my $t0 = time();
# Deaths: now, 50ms, 100ms, 200ms, 400ms, 400ms (capped) ...
ok($c->wait_log(qr/(?:restarting in (?:0\.4s|400ms).*){2}/s, 10),
    'the delay reaches backoff_max twice');
my $elapsed = time() - $t0;
my $log = log_text($c);
my @delays = map { $_->[0] eq 'now' ? 0 : secs($_->[0], $_->[1]) }
    map { [/restarting (now|in ([\d.]+)(ms|s))/ ? ($1 eq 'now' ? 'now' : ($2, $3)) : ()] }
    grep { /restarting/ } split(/\n/, $log);
is_deeply([@delays[0 .. 5]], [0, 0.05, 0.1, 0.2, 0.4, 0.4],
    'delays: now, 50ms, 100ms, 200ms, 400ms, 400ms')
    or diag("delays: @delays");
like($log, qr/^clusterd: worker 0 \(pid \d+\) exited with status 1; restarting now$/m,
    'log: exited with status 1; restarting now');
like($log, qr/^clusterd: worker 0 \(pid \d+\) exited with status 1; restarting in (?:0\.05s|50ms)$/m,
    'log: exited with status 1; restarting in 50ms');
my @starts = $log =~ /^clusterd: worker 0 \(pid \d+\) started$/mg;
cmp_ok(scalar(@starts), '<=', 8,
    sprintf('%d starts in %.2fs: not a busy loop', scalar(@starts), $elapsed));
cmp_ok($elapsed, '>=', 0.7, 'the backoff took its time (0.75s expected)');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM while backing off: exit 0');

# A long wait is a timer, not a sleep: SIGTERM during it is served at once.
$conf = write_file("$TMPDIR/slow.conf", <<'END');
[clusterd]
workers = 1
[program]
command = /bin/sh -c "exit 1"
backoff_initial = 20s
END
$c = start_clusterd(args => ['-c', $conf]);
ok($c->wait_log(qr/restarting in 20s/), 'second death waits 20s');
my $t1 = time();
kill TERM => $c->pid;
is(wait_exit($c, 3), 0, 'SIGTERM during a 20s backoff: exit 0');
cmp_ok(time() - $t1, '<', 2, 'at once, not after the backoff');

# A worker that lived stable_after resets the count: always "now".
$conf = write_file("$TMPDIR/stable.conf", <<'END');
[clusterd]
workers = 1
[program]
command = /bin/sh -c "sleep 0.3; exit 1"
backoff_initial = 5s
stable_after = 200ms
END
$c = start_clusterd(args => ['-c', $conf]);
ok($c->wait_log(qr/(?:restarting.*?){3}/s, 5), 'three deaths');
$log = log_text($c);
my @r = $log =~ /restarting (now|in \S+)/g;
is_deeply([@r[0 .. 2]], ['now', 'now', 'now'],
    'each death after stable_after restarts at once') or diag("@r");
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# Backoff is per slot: a crashing slot does not delay a healthy one.
$conf = write_file("$TMPDIR/slots.conf", <<'END');
[clusterd]
workers = 2
[program]
command = /bin/sh -c "test $CLUSTERD_WORKER_ID = 1 && exec sleep 1000; exit 1"
backoff_initial = 50ms
backoff_max = 100ms
END
$c = start_clusterd(args => ['-c', $conf]);
ok($c->wait_log(qr/worker 0 .*restarting in (?:0\.1s|100ms)/), 'slot 0 backs off');
my @sleepers = wait_workers($c->pid, 1, 5, 'sleep');
is(scalar(@sleepers), 1, 'slot 1 runs');
ok(!$c->log_matches(qr/worker 1 \(pid \d+\) (?:exited|killed)/),
    'slot 1 never died');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
