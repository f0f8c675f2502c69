# UNIX stream sockets: unix:PATH, /PATH and ./PATH; a stale socket file is
# replaced, a live one is "Address already in use", a non-socket file is an
# error; the file is removed at exit.  Abstract sockets: unix:@NAME.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);

# A stale socket file: bound, listened, closed without unlinking.
my $path = "$TMPDIR/web.sock";
{
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path,
	    Listen => 1) or die "$path: $!";
}
ok(-S $path, 'stale socket file exists');

my $c = start_clusterd(args => ['-n', 2, '-l', "unix:$path", '--', $HELLO]);
ok($c->wait_log(qr/^clusterd: listening on unix:\Q$path\E \(listen0\)$/m),
    'log: listening on unix:PATH');
my @w = wait_workers($c->pid, 2, 5, 'hello');
is(scalar(@w), 2, 'two workers');
like(http_get_unix($path) // '', qr/^hello world from worker \d \(pid \d+\)\n\z/,
    'answers on the UNIX socket (stale file replaced)');

# Both workers answer over it.
my $pids = answers_from_all(\@w, sub {
	return (http_get_unix($path) // '') =~ /pid (\d+)/ ? $1 : undef;
});
is_deeply([sort { $a <=> $b } keys %$pids], \@w, 'both workers answer');

# A live socket is in use.
my ($code, $out, $err) = run_clusterd(args => ['-n', 1, '-l', "unix:$path",
    '--', $HELLO]);
is($code, 2, 'live socket: exit 2');
like($err, qr/^clusterd: unix:\Q$path\E: Address already in use$/m,
    'live socket: Address already in use');
ok(-S $path && defined http_get_unix($path), 'the live one still answers');

kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(!-e $path, 'the socket file is removed at exit');

# A regular file is never replaced.
my $file = write_file("$TMPDIR/not-a-socket", "keep me\n");
($code, $out, $err) = run_clusterd(args => ['-n', 1, '-l', "unix:$file",
    '--', $HELLO]);
is($code, 2, 'non-socket file: exit 2');
like($err, qr/^clusterd: unix:\Q$file\E: /m, 'non-socket file: error names it');
is(slurp($file), "keep me\n", 'the file is untouched');

# /PATH and ./PATH forms.
my $abs = "$TMPDIR/abs.sock";
$c = start_clusterd(args => ['-n', 1, '-l', $abs, '--', $HELLO]);
wait_workers($c->pid, 1, 5, 'hello');
like(http_get_unix($abs) // '', qr/^hello world/, '/PATH form answers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(!-e $abs, '/PATH removed at exit');

$c = start_clusterd(args => ['-n', 1, '-l', './rel.sock', '--', $HELLO],
    dir => $TMPDIR);
wait_workers($c->pid, 1, 5, 'hello');
like(http_get_unix("$TMPDIR/rel.sock") // '', qr/^hello world/,
    './PATH form answers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
ok(!-e "$TMPDIR/rel.sock", './PATH removed at exit');

# Abstract.
my $name = "clusterd-test-$$";
$c = start_clusterd(args => ['-n', 2, '-l', "admin=unix:\@$name", '--',
    $HELLO]);
ok($c->wait_log(qr/^clusterd: listening on unix:\@\Q$name\E \(admin\)$/m),
    'log: listening on unix:@NAME');
@w = wait_workers($c->pid, 2, 5, 'hello');
like(http_get_unix("\@$name") // '', qr/^hello world from worker \d/,
    'answers on the abstract socket');
is(proc_env($w[0] // 0)->{LISTEN_FDNAMES}, 'admin', 'LISTEN_FDNAMES=admin');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
