# A real peer: Debian's uvicorn (python3-uvicorn), one process per clusterd
# worker, on the inherited socket by number:
#	clusterd -n 3 -l http=8000 -- python3 -m uvicorn --fd {fd:http} app:app
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

plan(skip_all => "$PYTHON3 with uvicorn is needed (Debian package python3-uvicorn)")
    unless -x $PYTHON3 && system($PYTHON3, '-c', 'import uvicorn') == 0;
my @app = ('--app-dir', "$TOP_SRCDIR/t/bin", 'peer_uvicorn_app:app');
my @env = ('-e', 'PYTHONDONTWRITEBYTECODE=1');	# t/bin may be read-only

my $port = free_port();
my $c = start_clusterd(args => ['-n', 3, '-l', "127.0.0.1:$port",
    '-l', "http=127.0.0.1:0", @env, '--', $PYTHON3, '-m', 'uvicorn',
    '--fd', '{fd:http}', @app]);
my ($hport) = $c->wait_log(qr/^clusterd: listening on 127\.0\.0\.1:(\d+) \(http\)$/m);
my @w = wait_workers($c->pid, 3, 5);
is(scalar(@w), 3, 'three uvicorn processes');
is_deeply([map { [(proc_cmdline($_))[3, 4]] } @w], [(['--fd', 4]) x 3],
    '{fd:http} became --fd 4 (http is the second socket)');
my %ids;
my $seen = answers_from_all(\@w, sub {
	my $b;
	wait_for(sub { $b = http_get('127.0.0.1', $hport // 0) }, 10, 'an answer');
	return undef unless ($b // '') =~ /^uvicorn worker (\d) \(pid (\d+)\)\n\z/;
	$ids{$1} = 1;
	return $2;
});
is_deeply([sort { $a <=> $b } keys %$seen], \@w, 'all 3 uvicorn processes answer');
is_deeply([sort keys %ids], [0, 1, 2], 'as workers 0, 1, 2');
ok($c->log_matches(qr/Uvicorn running on socket \('127\.0\.0\.1', $hport\)/),
    'uvicorn says it runs on the inherited socket') if $hport;
ok(!$c->log_matches(qr/Traceback|exited with status/), 'no failure');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: uvicorn shuts down, exit 0');
like($c->log_text, qr/Finished server process/, 'uvicorn finished cleanly');
ok(!grep({ alive($_) } @w), 'every uvicorn process is gone');

# The plain form, one socket: --fd 3.
$port = free_port();
$c = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port", @env, '--',
    $PYTHON3, '-m', 'uvicorn', '--fd', 3, @app]);
@w = wait_workers($c->pid, 2, 5);
$seen = answers_from_all(\@w, sub {
	my $b;
	wait_for(sub { $b = http_get('127.0.0.1', $port) }, 10, 'an answer');
	return ($b // '') =~ /^uvicorn worker \d \(pid (\d+)\)\n\z/ ? $1 : undef;
});
is_deeply([sort { $a <=> $b } keys %$seen], \@w, '--fd 3: both answer');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'exit 0');

done_testing();
