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
my @w = wait_workers($c->pid, 1, 5, 'sleep');
is(wait_exit($c, 5), 3, 'exit status 3');
my $log = log_text($c);
like($log, qr/^clusterd: worker 1 died 3 times in a row; giving up$/m,
    'log: worker 1 died 3 times in a row; giving up');
my @starts = $log =~ /^clusterd: worker 1 \(pid \d+\) started$/mg;
is(scalar(@starts), 3, 'slot 1 ran 3 times');
ok(@w && !alive($w[0]), 'the healthy worker was stopped too');
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
