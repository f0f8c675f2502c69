# restart = never | on-failure: a batch pool ends like a batch job, exit 0
# when every worker exited 0, else 1.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

sub pool {
	my ($restart, $cmd, $n) = @_;
	my $conf = write_file("$TMPDIR/batch-$restart-$n.conf", <<"END");
[clusterd]
workers = $n
[program]
restart = $restart
command = $cmd
END
	return run_clusterd(args => ['-c', $conf, '-l', 'none'], timeout => 10);
}

my ($code, $out, $err) = pool('never', '/bin/sh -c "exit 0"', 3);
is($code, 0, 'restart=never, all exit 0: exit 0');
my @lines = $err =~ /^clusterd: worker \d \(pid \d+\) exited with status 0; not restarting \(restart = never\)$/mg;
is(scalar(@lines), 3, 'three "not restarting (restart = never)" lines');

($code, $out, $err) = pool('never', '/bin/sh -c "exit $CLUSTERD_WORKER_ID"', 2);
is($code, 1, 'restart=never, one exits 1: exit 1');
like($err, qr/^clusterd: worker 1 \(pid \d+\) exited with status 1; not restarting \(restart = never\)$/m,
    'log: exited with status 1; not restarting');

($code, $out, $err) = pool('never', '/bin/sh -c "kill -9 \$\$"', 1);
is($code, 1, 'restart=never, killed by a signal: exit 1');

($code, $out, $err) = pool('on-failure', '/bin/sh -c "exit 0"', 2);
is($code, 0, 'restart=on-failure, all exit 0: exit 0');
like($err, qr/^clusterd: worker 0 \(pid \d+\) exited with status 0; not restarting \(restart = on-failure\)$/m,
    'log: not restarting (restart = on-failure)');

# A failure is retried; once it succeeds the pool ends cleanly.
my $flag = "$TMPDIR/failed-once";
($code, $out, $err) = pool('on-failure',
    "/bin/sh -c \"mkdir $flag 2>/dev/null && exit 1; exit 0\"", 1);
like($err, qr/^clusterd: worker 0 \(pid \d+\) exited with status 1; restarting now$/m,
    'on-failure: a failed worker is restarted');
like($err, qr/^clusterd: worker 0 \(pid \d+\) exited with status 0; not restarting \(restart = on-failure\)$/m,
    'and not after it succeeds');
is($code, 0, 'on-failure: the retried pool ends with exit 0');

done_testing();
