# --subreaper: orphans of the workers are re-parented to clusterd and reaped.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

# The worker's subshell starts "sleep 999" and exits: an orphan.
my @cmd = ('--', '/bin/sh', '-c', '(sleep 999 &); exec sleep 1000');

my $ctl = "$TMPDIR/ctl.sock";
my $c = start_clusterd(args => ['--subreaper', '-n', 1, '-l', '127.0.0.1:0',
    '-s', $ctl, @cmd]);
my ($worker) = $c->wait_log(qr/^clusterd: worker 0 \(pid (\d+)\) started$/m);
my $orphan;
wait_for(sub {
	($orphan) = grep { join(' ', proc_cmdline($_)) eq 'sleep 999' }
	    tagged_pids();
	return $orphan;
}, 5, 'the orphan');
ok($orphan, 'the orphan runs');
is((proc_stat($orphan // 0) // {})->{ppid}, $c->pid,
    'its parent is now clusterd');
kill TERM => $orphan if $orphan;
ok($orphan && wait_for(sub { !-e "/proc/$orphan" }, 5, 'the orphan to be reaped'),
    'it is reaped when it exits (no zombie)');
my @kids;
wait_for(sub { @kids = worker_pids($c->pid); @kids == 1 }, 5, 'one child');
is_deeply(\@kids, [$worker], 'clusterd\'s children: the worker only');
# Reaped, and a status answer after: what clusterd makes of that exit is
# done and logged.
ok(defined((ctl_request($ctl, "status\n", 5))[0]), 'status answers');
ok(!$c->log_matches(qr/restarting|exited/), 'the orphan is not a worker');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# Without --subreaper the orphan goes elsewhere.
$c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', @cmd]);
wait_workers($c->pid, 1, 5, 'sleep');
undef $orphan;
wait_for(sub {
	($orphan) = grep { join(' ', proc_cmdline($_)) eq 'sleep 999' }
	    tagged_pids();
	return $orphan;
}, 5, 'the orphan');
isnt((proc_stat($orphan // 0) // {})->{ppid} // 0, $c->pid,
    'without --subreaper: not clusterd\'s');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
