# A dead worker is replaced in its slot: same CLUSTERD_WORKER_ID, new pid,
# at once for a lone death, after backoff_initial for a second quick one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $port = free_port();
my $c = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port", '--',
    $HELLO]);
my @w = wait_workers($c->pid, 2, 5, 'hello');
is(scalar(@w), 2, 'two workers');
my %by_id = map { (proc_env($_)->{CLUSTERD_WORKER_ID} => $_) } @w;
is_deeply([sort keys %by_id], [0, 1], 'slots 0 and 1');

# kill -9 worker 1: replaced at once in slot 1; worker 0 untouched.
my $victim = $by_id{1};
kill KILL => $victim;
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $victim\) killed by signal 9; restarting now$/m),
    'log: worker 1 killed by signal 9; restarting now');
my ($new) = $c->wait_log(qr/^clusterd: worker 1 \(pid (?!$victim\))(\d+)\) started$/m);
ok($new, "log: worker 1 (pid $new) started") if $new;
@w = wait_workers($c->pid, 2, 5, 'hello');
ok($new && (grep { $_ == $new } @w), 'the new worker runs');
is(proc_env($new // 0)->{CLUSTERD_WORKER_ID}, 1, 'the new worker has slot 1')
    if $new;
ok(!(grep { $_ == $victim } @w), 'the dead one is gone (reaped)');
ok((grep { $_ == $by_id{0} } @w), 'worker 0 is untouched');
is(proc_env($new // 0)->{LISTEN_PID}, $new, 'LISTEN_PID is the new pid');
like(proc_fds($new // 0)->{3} // '', qr/^socket:/, 'the new worker has fd 3');

# The replacement serves.
my $answered = answers_from_all(\@w, sub {
	my $b = http_get('127.0.0.1', $port) // '';
	return $b =~ /^hello world from worker \d \(pid (\d+)\)\n\z/ ? $1 : undef;
});
ok($new && $answered->{$new}, 'the replacement answers');

# A second quick death of the same slot waits backoff_initial (100ms).
kill KILL => $new;
my $re = dur_re(0.1);
ok($c->wait_log(qr/^clusterd: worker 1 \(pid $new\) killed by signal 9; restarting in $re$/m),
    'second quick death: restarting in 100ms');
my ($third) = $c->wait_log(qr/^clusterd: worker 1 \(pid (?!$new\))(?!$victim\))(\d+)\) started$/m);
ok($third, 'and it is replaced after the delay');

# A worker that exits (hello exits 0 on SIGTERM) is restarted too.
my $w0 = $by_id{0};
kill TERM => $w0;
ok($c->wait_log(qr/^clusterd: worker 0 \(pid $w0\) exited with status 0; restarting now$/m),
    'exit 0 under restart=always: restarting now');
@w = wait_workers($c->pid, 2, 5, 'hello');
is(scalar(@w), 2, 'two workers again');
my %ids = map { (proc_env($_)->{CLUSTERD_WORKER_ID} => 1) } @w;
is_deeply([sort keys %ids], [0, 1], 'still slots 0 and 1');

# No zombie among clusterd's children.
ok(!(grep { (proc_stat($_) // {})->{state} eq 'Z' } worker_pids($c->pid)),
    'no zombie children');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM: exit 0');

done_testing();
