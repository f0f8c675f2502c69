# Stopping: SIGTERM/SIGINT stop every worker (stop_signal to its group),
# requests in flight finish, SIGKILL after stop_timeout, a second signal
# or SIGQUIT kills at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use Time::HiRes qw(time);

# Plain SIGTERM.
my $port = free_port();
my $c = start_clusterd(args => ['-n', 3, '-l', "127.0.0.1:$port", '--',
    $HELLO]);
my @w = wait_workers($c->pid, 3, 5, 'hello');
is(scalar(@w), 3, 'three workers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'SIGTERM: exit 0');
ok(!(grep { alive($_) } @w), 'every worker is gone');
my $log = log_text($c);
my $to = dur_re(8);
like($log, qr/^clusterd: stopping 3 workers \(SIGTERM, timeout $to\)$/m,
    'log: stopping 3 workers (SIGTERM, timeout 8s)');
like($log, qr/^clusterd: stopped$/m, 'log: stopped');
ok(!$c->log_matches(qr/restarting|killing/), 'no restart, no kill');
ok(!defined http_get('127.0.0.1', $port, '/', 1), 'the port is closed');

# SIGINT does the same.
$c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '--', $HELLO]);
@w = wait_workers($c->pid, 2, 5, 'hello');
kill INT => $c->pid;
is(wait_exit($c), 0, 'SIGINT: exit 0');
ok(!(grep { alive($_) } @w), 'every worker is gone');

# A request in flight is answered before the worker exits.
$port = free_port();
$c = start_clusterd(args => ['-n', 1, '-l', "127.0.0.1:$port",
    '-e', 'HELLO_DELAY_MS=500', '--', $HELLO]);
@w = wait_workers($c->pid, 1, 5, 'hello');
my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port);
syswrite($s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
# wait until the worker has accepted it (a connection fd beyond 3)
ok(wait_for(sub { grep { $_ > 3 && (proc_fds($w[0]) // {})->{$_} =~ /^socket/ }
    keys %{ proc_fds($w[0]) // {} } }, 5, 'the worker to accept'),
    'the worker accepted the request');
my $t0 = time();
kill TERM => $c->pid;
my $r = Clusterd::read_all($s, 5);
like($r, qr/\r\nConnection: close\r\n.*hello world from worker 0 \(pid $w[0]\)\n\z/s,
    'the request in flight is answered, then the connection closed');
is(wait_exit($c), 0, 'exit 0');
cmp_ok(time() - $t0, '>=', 0.3, 'clusterd waited for the worker');

# A worker ignoring SIGTERM is killed after stop_timeout (-t 300ms).
$c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '-t', '300ms',
    '-e', 'HELLO_IGNORE_TERM=1', '--', $HELLO]);
@w = wait_workers($c->pid, 2, 5, 'hello');
$t0 = time();
kill TERM => $c->pid;
is(wait_exit($c, 5), 0, 'exit 0 after killing');
my $took = time() - $t0;
cmp_ok($took, '>=', 0.28, sprintf('waited the timeout (%.2fs)', $took));
cmp_ok($took, '<', 3, 'but not much longer');
ok(!(grep { alive($_) } @w), 'every worker is gone');
$to = dur_re(0.3);
like(log_text($c), qr/^clusterd: stopping 2 workers \(SIGTERM, timeout $to\)$/m,
    'log: stopping 2 workers (SIGTERM, timeout 300ms)');
for my $pid (@w) {
	like(log_text($c),
	    qr/^clusterd: worker \d \(pid $pid\) did not stop within $to; killing$/m,
	    "log: worker (pid $pid) did not stop within 300ms; killing");
}

# A second SIGTERM kills at once.
$c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '-t', '20s',
    '-e', 'HELLO_IGNORE_TERM=1', '--', $HELLO]);
@w = wait_workers($c->pid, 2, 5, 'hello');
kill TERM => $c->pid;
ok($c->wait_log(qr/stopping 2 workers/), 'stopping');
$t0 = time();
kill TERM => $c->pid;
is(wait_exit($c, 5), 0, 'second SIGTERM: exit 0');
cmp_ok(time() - $t0, '<', 2, 'at once, not after 20s');
ok(!(grep { alive($_) } @w), 'every worker is gone');

# SIGQUIT kills at once.
$c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '-t', '20s',
    '-e', 'HELLO_IGNORE_TERM=1', '--', $HELLO]);
@w = wait_workers($c->pid, 2, 5, 'hello');
$t0 = time();
kill QUIT => $c->pid;
is(wait_exit($c, 5), 0, 'SIGQUIT: exit 0 (stopped on request)');
cmp_ok(time() - $t0, '<', 2, 'at once');
ok(!(grep { alive($_) } @w), 'every worker is gone');

# stop_signal = INT reaches a worker that ignores TERM.
my $conf = write_file("$TMPDIR/int.conf", <<"END");
[socket:http]
listen = 127.0.0.1:0
[program]
command = $HELLO
stop_signal = INT
END
$c = start_clusterd(args => ['-n', 1, '-t', '20s', '-c', $conf,
    '-e', 'HELLO_IGNORE_TERM=1']);
@w = wait_workers($c->pid, 1, 5, 'hello');
$t0 = time();
kill TERM => $c->pid;
is(wait_exit($c, 5), 0, 'stop_signal = INT: exit 0');
cmp_ok(time() - $t0, '<', 2, 'the worker stopped on SIGINT');
like(log_text($c), qr/^clusterd: stopping 1 worker \(SIGINT, timeout 20s\)$/m,
    'log: stopping 1 worker (SIGINT, timeout 20s)');

# The stop signal goes to the worker's process group: its children stop too.
$c = start_clusterd(args => ['-n', 1, '-l', 'none', '--', '/bin/sh', '-c',
    'sleep 1000 & wait']);
@w = wait_workers($c->pid, 1, 5, 'sh');
my @kids;
wait_for(sub { @kids = worker_pids($w[0] // 0); @kids == 1 }, 5,
    'the worker\'s child');
is(scalar(@kids), 1, 'the worker has a child (sleep)');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(wait_for(sub { !(grep { alive($_) } @kids) }, 2, 'the grandchild to go'),
    'the worker\'s child got the signal too');

done_testing();
