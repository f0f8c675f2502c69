# Command-line errors exit 2 with a hint; -V, -h; getopt stops at the
# first non-option; -q.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $hint = qr/^Try 'clusterd --help'\.$/m;

sub bad_option {
	my ($what, $args, $re) = @_;
	my ($code, $out, $err) = run_clusterd(args => $args);
	is($code, 2, "$what: exit 2");
	like($err, $re, "$what: message") if $re;
	like($err, $hint, "$what: hint");
	unlike($err, qr/clusterd: clusterd:/, "$what: one prefix");
	my @errs = $err =~ /^clusterd: /mg;
	is(scalar(@errs), 1, "$what: one error line");
	unlike($err, qr/started|listening/, "$what: nothing started");
}

bad_option('-n abc', ['-n', 'abc', '--', 'sleep', '1'],
    qr/^clusterd: -n: bad number "abc"/m);
bad_option('--workers=x', ['--workers=x', '--', 'sleep', '1'],
    qr/^clusterd: .*bad number "x"/m);
bad_option('unknown option', ['--bogus', '--', 'sleep', '1'],
    qr/bogus/);
bad_option('unknown short option', ['-Z', '--', 'sleep', '1'], qr/Z/);
bad_option('missing argument', ['-n'], undef);
bad_option('-t 10x', ['-t', '10x', '--', 'sleep', '1'], qr/"10x"/);
bad_option('--ready=bogus', ['--ready=bogus', '--', 'sleep', '1'],
    qr/bogus/);
bad_option('-l bad port', ['-l', '127.0.0.1:notaport', '--', 'sleep', '1'],
    qr/127\.0\.0\.1:notaport/);
bad_option('-l bad name', ['-l', 'a/b=127.0.0.1:0', '--', 'sleep', '1'],
    qr/a\/b/);
# An empty user or group, which "user =" in the file cannot be either
# (found by fuzz-config's round trip: --check printed "user = ").
bad_option('-u :', ['-u', ':', '--', 'sleep', '1'],
    qr/^clusterd: -u: empty user name in ":" \(USER or USER:GROUP\)$/m);
bad_option('-u www:', ['-u', 'www:', '--', 'sleep', '1'],
    qr/^clusterd: -u: empty group name in "www:"/m);
bad_option('-s \'\'', ['-s', '', '--', 'sleep', '1'],
    qr/^clusterd: -s: empty argument$/m);
bad_option('--directory=', ['--directory=', '--', 'sleep', '1'],
    qr/^clusterd: -d: empty argument$/m);
bad_option('-e 1A=b', ['-e', '1A=b', '--', 'sleep', '1'],
    qr/^clusterd: -e: bad environment variable name in "1A=b"/m);
bad_option('--user=', ['--user=', '--', 'sleep', '1'],
    qr/^clusterd: -u: empty user name in ""/m);

my ($code, $out, $err) = run_clusterd(args => ['-n', '2']);
is($code, 2, 'no command: exit 2');
like($err, qr/no command/, 'no command: says so');

# reuseport is for TCP and UDP sockets; a UNIX one says so.
($code, $out, $err) = run_clusterd(args => ['-c', write_file("$TMPDIR/rp.conf",
    "[socket:u]\nlisten = unix:$TMPDIR/u.sock\nreuseport = yes\n[program]\ncommand = sleep 1\n")]);
is($code, 2, 'reuseport on a UNIX socket: exit 2');
like($err, qr/rp\.conf:1: \[socket:u\]: reuseport takes TCP or UDP sockets/,
    'reuseport on a UNIX socket: FILE:LINE says why');

# --bind-shim needs its library: a missing one is a clear error, exit 2.
($code, $out, $err) = run_clusterd(args => ['--bind-shim', '--', 'sleep', '1'],
    env => { CLUSTERD_SHIM => '/nonexistent/clusterd-shim.so' });
is($code, 2, '--bind-shim without its library: exit 2');
like($err, qr{bind shim /nonexistent/clusterd-shim\.so: No such file or directory},
    '--bind-shim without its library: says which file');

($code, $out, $err) = run_clusterd(args => ['-V']);
is($code, 0, '-V: exit 0');
like($out, qr/^clusterd \d+\.\d+\S* \((?:[0-9a-f]{7,}|unknown)\)\n\z/, '-V: clusterd VERSION (COMMIT)');
($code, $out, $err) = run_clusterd(args => ['--version']);
is($code, 0, '--version: exit 0');
($code, $out, $err) = run_clusterd(args => ['-h']);
is($code, 0, '-h: exit 0');
like($out, qr/usage: clusterd/i, '-h: usage on stdout');
like($out, qr/--listen/, '-h: lists --listen');
is($err, '', '-h: nothing on stderr');

# The first non-option ends the options: -n 5 belongs to the command.
# (and -e is perl's, not clusterd's --env)
my $c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', 'perl', '-e',
    'sleep 1000', '--', '-n', '5']);
my @w = wait_workers($c->pid, 1, 5, 'perl');
is(scalar(@w), 1, 'one worker');
is_deeply([proc_cmdline($w[0] // 0)],
    ['perl', '-e', 'sleep 1000', '--', '-n', '5'],
    'options after the command are the command\'s');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# Long options with '='.
$c = start_clusterd(args => ['--workers=2', '--listen=127.0.0.1:0',
    '--stop-timeout=1s', '--env=K=V', '--', 'sleep', '1000']);
@w = wait_workers($c->pid, 2, 5, 'sleep');
is(scalar(@w), 2, '--workers=2');
is(proc_env($w[0] // 0)->{K}, 'V', '--env=K=V');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
like(log_text($c), qr/timeout 1s/, '--stop-timeout=1s');

# -q: warnings and errors only.
$c = start_clusterd(args => ['-q', '-n', 1, '-l', '127.0.0.1:0', '--',
    $HELLO]);
@w = wait_workers($c->pid, 1, 5, 'hello');
kill KILL => $w[0] if @w;
wait_for(sub { my @n = wait_workers($c->pid, 1, 5, 'hello');
    @n && $n[0] != ($w[0] // 0) }, 5, 'a replacement');
kill TERM => $c->pid;
is(wait_exit($c), 0, '-q: exit 0');
unlike(log_text($c), qr/listening on|started|ready|stopping|stopped/,
    '-q: no informational lines');

done_testing();
