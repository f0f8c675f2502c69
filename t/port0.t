# Port 0: one port is picked for the whole cluster and printed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $c = start_clusterd(args => ['-n', 3, '-l', '127.0.0.1:0',
    '-e', 'MYPORT={port:listen0}', '--', $HELLO]);
my ($port) = $c->wait_log(
    qr/^clusterd: listening on 127\.0\.0\.1:(\d+) \(listen0\)$/m);
ok($port && $port > 0, "the chosen port is printed ($port)");
my @w = wait_workers($c->pid, 3, 5, 'hello');
is(scalar(@w), 3, 'three workers');
is_deeply([map { proc_env($_)->{MYPORT} } @w], [($port) x 3],
    '{port:listen0} is the chosen port for every worker');
my $pids = answers_from_all(\@w, sub {
	my $b = http_get('127.0.0.1', $port) // '';
	return $b =~ /^hello world from worker \d \(pid (\d+)\)/ ? $1 : undef;
});
is_deeply([sort { $a <=> $b } keys %$pids], \@w,
    'all workers answer on the one port');

# A replacement gets the same port.
kill KILL => $w[0];
ok($c->wait_log(qr/killed by signal 9; restarting now/), 'a worker dies');
my @n = wait_workers($c->pid, 3, 5, 'hello');
my ($new) = grep { my $p = $_; !grep { $_ == $p } @w } @n;
is(proc_env($new // 0)->{MYPORT}, $port, 'the replacement gets the same port');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
