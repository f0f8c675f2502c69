# SIGKILL of clusterd leaves no worker behind (parent-death signal).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $c = start_clusterd(args => ['-n', 3, '-l', '127.0.0.1:0', '--', 'sleep',
    '1000']);
my @w = wait_workers($c->pid, 3, 5, 'sleep');
is(scalar(@w), 3, 'three workers');
kill KILL => $c->pid;
is(wait_exit($c), 128 + 9, 'clusterd killed');
ok(wait_for(sub { !(grep { alive($_) } @w) }, 5, 'the workers to die'),
    'no worker outlives clusterd (default TERM)');
is_deeply([tagged_pids()], [], 'nothing left running');

# parent_death_signal = KILL for workers that ignore TERM.
my $conf = write_file("$TMPDIR/kill.conf", <<"END");
[socket:http]
listen = 127.0.0.1:0
[program]
command = $HELLO
parent_death_signal = KILL
END
$c = start_clusterd(args => ['-n', 2, '-c', $conf,
    '-e', 'HELLO_IGNORE_TERM=1']);
@w = wait_workers($c->pid, 2, 5, 'hello');
is(scalar(@w), 2, 'two workers ignoring SIGTERM');
my ($ign) = (slurp("/proc/" . ($w[0] // 0) . "/status") // '')
    =~ /^SigIgn:\s*([0-9a-f]+)$/m;
ok($ign && hex(substr($ign, -4)) & (1 << (15 - 1)), 'the worker ignores SIGTERM');
kill KILL => $c->pid;
is(wait_exit($c), 128 + 9, 'clusterd killed');
ok(wait_for(sub { !(grep { alive($_) } @w) }, 5, 'the workers to die'),
    'parent_death_signal = KILL: no worker left');
is_deeply([tagged_pids()], [], 'nothing left running');

done_testing();
