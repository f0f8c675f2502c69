# With no -l, no -c: listen on :${PORT:-3000}.  With -c, sockets come only
# from the file (none: a socketless pool).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $port = free_port();
my $c = start_clusterd(args => ['-n', 2, '--', $HELLO],
    env => { PORT => $port });
ok($c->wait_log(qr/^clusterd: listening on (?:\[::\]|0\.0\.0\.0):$port \(listen0\)$/m),
    'PORT=N: listening on :N (listen0)');
my @w = wait_workers($c->pid, 2, 5, 'hello');
like(http_get('127.0.0.1', $port) // '', qr/^hello world/, 'answers');
is(proc_env($w[0] // 0)->{LISTEN_FDNAMES}, 'listen0', 'named listen0');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

SKIP: {
	my $probe = IO::Socket::IP->new(LocalPort => 3000, Listen => 1,
	    ReuseAddr => 1);
	skip('port 3000 is busy here', 2) unless $probe;
	undef $probe;
	$c = start_clusterd(args => ['-n', 1, '--', $HELLO]);
	ok($c->wait_log(qr/^clusterd: listening on (?:\[::\]|0\.0\.0\.0):3000 \(listen0\)$/m),
	    'no PORT: listening on :3000');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

# A config file without [socket:...]: no socket at all.
my $conf = write_file("$TMPDIR/nosock.conf", <<'END');
[program]
command = sleep 1000
END
$c = start_clusterd(args => ['-n', 1, '-c', $conf], env => { PORT => $port });
@w = wait_workers($c->pid, 1, 5, 'sleep');
is(scalar(@w), 1, 'one worker');
ok(!exists((proc_env($w[0] // 0) // {})->{LISTEN_FDS}),
    'config without sockets: no LISTEN_FDS');
ok(!$c->log_matches(qr/listening on/), 'config without sockets: no socket');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
