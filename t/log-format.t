# clusterd's own log lines (decisions5 "Worker output"): sd-daemon "<N>"
# priorities when stderr is the journal (JOURNAL_STREAM names it), an
# HH:MM:SS.mmm timestamp on a terminal, plain "clusterd: " lines otherwise.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::IP;
use Clusterd;

# perl sets JOURNAL_STREAM to its stderr's (or another file's) device:inode,
# as systemd does for StandardError=journal, and execs clusterd.
sub journal_args {
	my ($which, @extra) = @_;
	return (binary => $^X, args => ['-e', <<'END', $which, $CLUSTERD, @extra]);
my $which = shift;
my @st = $which eq 'stderr' ? stat(STDERR) : stat('/dev/null');
$ENV{JOURNAL_STREAM} = "$st[0]:$st[1]";
if ($ENV{BAD_LISTEN_FDS}) {	# for a warning: LISTEN_FDS for us, not a count
	$ENV{LISTEN_PID} = $$;
	$ENV{LISTEN_FDS} = 'abc';
}
exec { $ARGV[0] } @ARGV or die "exec: $!";
END
}

# 1. The journal: every line has a priority; info 6, warning 4, error 3.
my $c = start_clusterd(journal_args('stderr', '-n', 1, '-l', '127.0.0.1:0',
    '--', $HELLO), env => { BAD_LISTEN_FDS => 1 });
ok($c->wait_log(qr/1 worker ready$/m), 'started');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
my @lines = split(/\n/, $c->log_text);
is(scalar(grep { !/^<[0-7]>clusterd: / } @lines), 0,
    'journal: every line starts with <N>clusterd: ') or diag(explain(\@lines));
like($c->log_text, qr/^<6>clusterd: listening on 127\.0\.0\.1:\d+ \(listen0\)$/m,
    'info: <6>');
like($c->log_text, qr/^<4>clusterd: LISTEN_FDS=abc: not a count; ignored$/m,
    'warning: <4>');
like($c->log_text, qr/^<6>clusterd: stopped$/m, '<6>clusterd: stopped');

my $port = free_port();
my $hold = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $port,
    Listen => 1, ReuseAddr => 0) or die "bind: $!";
$c = start_clusterd(journal_args('stderr', '-n', 1, '-l', "127.0.0.1:$port",
    '--', $HELLO));
is(wait_exit($c), 2, 'a port in use: exit 2');
like($c->log_text, qr/^<3>clusterd: 127\.0\.0\.1:$port: Address already in use$/m,
    'error: <3>');
close($hold);

# 2. JOURNAL_STREAM naming another file (stderr redirected): plain lines.
$c = start_clusterd(journal_args('other', '-n', 1, '-l', '127.0.0.1:0',
    '--', $HELLO));
ok($c->wait_log(qr/^clusterd: 1 worker ready$/m),
    'JOURNAL_STREAM of another file: plain "clusterd: " lines');
ok(!$c->log_matches(qr/^</m), 'no <N> anywhere');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 3. A terminal: script(1) gives clusterd a pty.
SKIP: {
	skip('/usr/bin/script is needed (Debian package bsdutils)', 4)
	    unless -x '/usr/bin/script';
	$c = start_clusterd(binary => '/usr/bin/script', args => ['-qfec',
	    "exec $CLUSTERD -n 1 -l 127.0.0.1:0 -- $HELLO", '/dev/null']);
	ok($c->wait_log(qr/1 worker ready\r?$/m), 'started on a pty');
	my ($cd) = grep { (proc_stat($_) // {})->{comm} eq 'clusterd' }
	    worker_pids($c->pid);
	ok($cd, 'clusterd runs under script');
	kill TERM => $cd if $cd;
	is(wait_exit($c), 0, 'exit 0');
	my @l = grep { /\S/ } split(/\r?\n/, $c->log_text);
	is(scalar(grep { !/^\d\d:\d\d:\d\d\.\d{3} clusterd: / } @l), 0,
	    'terminal: every line starts with HH:MM:SS.mmm clusterd: ')
	    or diag(explain(\@l));
}

# 4. A file (this test's log): plain.
$c = start_clusterd(args => ['-n', 1, '-l', '127.0.0.1:0', '--', $HELLO]);
ok($c->wait_log(qr/1 worker ready$/m), 'started');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
is(scalar(grep { !/^clusterd: / } split(/\n/, $c->log_text)), 0,
    'a file: plain "clusterd: " lines');

done_testing();
