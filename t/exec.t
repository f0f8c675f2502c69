# A command that cannot run is reported at start-up through the CLOEXEC
# pipe: "cannot run CMD: REASON", exit 127 (not found) or 126 (not
# executable), with nothing left running.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

sub cannot {
	my ($what, $cmd, $code, $reason, @args) = @_;
	my ($got, $out, $err) = run_clusterd(args => ['-n', 3, '-l', '127.0.0.1:0',
	    @args, '--', $cmd], dir => $TMPDIR);
	is($got, $code, "$what: exit $code");
	like($err, qr/^clusterd: cannot run \Q$cmd\E: \Q$reason\E$/m,
	    "$what: cannot run $cmd: $reason");
	my @lines = $err =~ /cannot run/g;
	is(scalar(@lines), 1, "$what: said once");
	unlike($err, qr/restarting/, "$what: no restart loop");
	is_deeply([tagged_pids()], [], "$what: nothing left running");
}

cannot('missing path', './no-such-server', 127, 'No such file or directory');
cannot('not in PATH', 'no-such-command-xyzzy', 127,
    'No such file or directory');
write_file("$TMPDIR/not-exec", "#!/bin/sh\nexit 0\n", 0644);
cannot('not executable', "$TMPDIR/not-exec", 126, 'Permission denied');
mkdir("$TMPDIR/adir");
cannot('a directory', "$TMPDIR/adir", 126, 'Permission denied');
write_file("$TMPDIR/bad-interp", "#!/no/such/interpreter\n", 0755);
cannot('missing interpreter', "$TMPDIR/bad-interp", 127,
    'No such file or directory');

# The same with a socket: the socket is closed again.
my $port = free_port();
my ($code, $out, $err) = run_clusterd(args => ['-n', 2, '-l',
    "127.0.0.1:$port", '--', './no-such-server'], dir => $TMPDIR);
is($code, 127, 'with a socket: exit 127');
ok(!defined http_get('127.0.0.1', $port, '/', 1), 'the port is closed');

done_testing();
