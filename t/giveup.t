# give_up_after = K: K consecutive quick deaths of one slot stop everything,
# exit 3.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $conf = write_file("$TMPDIR/giveup.conf", <<'END');
[clusterd]
workers = 2
give_up_after = 3
[program]
command = /bin/sh -c "test $CLUSTERD_WORKER_ID = 0 && exec sleep 1000; exit 1"
backoff_initial = 10ms
END
my $c = start_clusterd(args => ['-c', $conf]);
# All of it can be over before the healthy worker could be seen running:
# the log names it.
is(wait_exit($c, 5), 3, 'exit status 3');
my $log = log_text($c);
like($log, qr/^clusterd: worker 1 died 3 times in a row; giving up$/m,
    'log: worker 1 died 3 times in a row; giving up');
my @starts = $log =~ /^clusterd: worker 1 \(pid \d+\) started$/mg;
is(scalar(@starts), 3, 'slot 1 ran 3 times');
my ($w0) = $log =~ /^clusterd: worker 0 \(pid (\d+)\) started$/m;
ok($w0 && $log =~ /^clusterd: worker 0 \(pid $w0\) killed by signal 15$/m && !alive($w0),
    'the healthy worker was stopped too (SIGTERM), and is gone');
is_deeply([tagged_pids()], [], 'nothing left running');

# The default (0) never gives up.
$conf = write_file("$TMPDIR/never.conf", <<'END');
[program]
command = /bin/sh -c "exit 1"
backoff_initial = 10ms
backoff_max = 20ms
END
$c = start_clusterd(args => ['-n', 1, '-c', $conf]);
ok($c->wait_log(qr/(?:restarting.*?){8}/s, 5), '8 quick deaths');
ok(!$c->log_matches(qr/giving up/), 'no giving up by default');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
