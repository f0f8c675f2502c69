# A real peer: Debian's gunicorn (20.1).  Its arbiter reads LISTEN_FDS
# (checking LISTEN_PID) by itself, so the recipe is gunicorn WITHOUT --bind:
#	clusterd -n 2 -l 8000 -- gunicorn -w 2 app:app
# and each clusterd worker is a gunicorn master with its own workers.
# Given --bind fd://3 as well, gunicorn 20.1 fails with EBADF: it takes
# fd 3 twice (from --bind and from LISTEN_FDS) and closes it after the
# first.  Both are checked here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $GUNICORN = '/usr/bin/gunicorn';
plan(skip_all => "$GUNICORN is needed (Debian package gunicorn)")
    unless -x $GUNICORN;
my ($version) = `$GUNICORN --version 2>&1` =~ /gunicorn \(version ([\d.]+)\)/;
my @app = ('--chdir', "$TOP_SRCDIR/t/bin", 'peer_gunicorn_app:app');
my @env = ('-e', 'PYTHONDONTWRITEBYTECODE=1');	# t/bin may be read-only

# 1. The recipe: 2 clusterd workers x 2 gunicorn workers = 4 pids.
my $port = free_port();
my $c = start_clusterd(args => ['-n', 2, '-l', "127.0.0.1:$port", @env, '--',
    $GUNICORN, '-w', 2, @app]);
my @masters = wait_workers($c->pid, 2, 5);
is(scalar(@masters), 2, 'two gunicorn masters, started by clusterd');
my @workers;
ok(wait_for(sub { @workers = map { worker_pids($_) } @masters; @workers == 4 },
    10, 'two gunicorn workers per master'), 'each master forked 2 workers');
ok($c->wait_log(qr/Listening at: http:\/\/127\.0\.0\.1:$port \(\d+\)(?s:.*)Listening at: http:\/\/127\.0\.0\.1:$port \(\d+\)/, 10),
    'both masters took the socket from LISTEN_FDS ("Listening at")');
my %master_of;
my $seen = answers_from_all(\@workers, sub {
	my $b;
	wait_for(sub { $b = http_get('127.0.0.1', $port) }, 10, 'an answer');
	return undef unless ($b // '') =~ /^gunicorn worker (\d) \(pid (\d+), master (\d+)\)\n\z/;
	$master_of{$2} = $3;
	return $2;
});
is_deeply([sort { $a <=> $b } keys %$seen], [sort { $a <=> $b } @workers],
    'all 4 gunicorn workers answer');
my %m = map { $_ => 1 } values %master_of;
is_deeply([sort { $a <=> $b } keys %m], \@masters,
    'under both clusterd workers');
for my $pid (@masters) {
	my $env = proc_env($pid) // {};
	is($env->{LISTEN_PID}, $pid, "$pid: LISTEN_PID is the master's own");
}
ok(!$c->log_matches(qr/Traceback|exited with status/), 'no failure');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: gunicorn stops gracefully, exit 0');
ok(!grep({ alive($_) } @masters, @workers), 'every gunicorn process is gone');

# 2. What the README must warn about: --bind fd://3 together with the
# LISTEN_FDS that gunicorn reads anyway.
SKIP: {
	skip("gunicorn $version is not Debian's 20.1", 4)
	    unless ($version // '') =~ /^20\.1\./;
	my $conf = write_file("$TMPDIR/giveup.conf", "[clusterd]\ngive_up_after = 2\n");
	$port = free_port();
	$c = start_clusterd(args => ['-c', $conf, '-n', 1, '-l',
	    "127.0.0.1:$port", @env, '--', $GUNICORN, '--bind', 'fd://3', @app]);
	is(wait_exit($c, 15), 3, 'gunicorn 20.1 --bind fd://3: every start fails; clusterd gives up (exit 3)');
	like($c->log_text, qr/^OSError: \[Errno 9\] Bad file descriptor$/m,
	    'gunicorn 20.1 --bind fd://3: OSError: [Errno 9] Bad file descriptor');
	like($c->log_text, qr/in create_sockets\n\s+sock = socket\.fromfd\(fd, /,
	    'in create_sockets, on the second socket.fromfd(3)');
	like($c->log_text, qr/^clusterd: worker 0 \(pid \d+\) exited with status 1; restarting/m,
	    'the worker exits with status 1');
}

# 3. --bind fd://3 alone works once LISTEN_FDS is out of gunicorn's sight.
$port = free_port();
$c = start_clusterd(args => ['-n', 1, '-l', "127.0.0.1:$port", @env, '--',
    'env', '-u', 'LISTEN_FDS', $GUNICORN, '--bind', 'fd://3', @app]);
my $b;
wait_for(sub { $b = http_get('127.0.0.1', $port) }, 10, 'an answer');
like($b // '', qr/^gunicorn worker 0 \(pid \d+, master \d+\)\n\z/,
    'env -u LISTEN_FDS gunicorn --bind fd://3: answers');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'exit 0');

done_testing();
