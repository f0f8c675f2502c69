# Worker output (decisions5 "Worker output", CONTRACT §2): inherited by
# default; with log_prefix = yes each worker's stdout and stderr go through
# pipes and come out on clusterd's stdout and stderr as
# "worker ID (pid PID): line", whole lines only, lines longer than 64 KiB
# in pieces, a last unterminated line at exit; a reader that stops reading
# never blocks clusterd: the workers wait instead (issue 11, t/log-sink.t).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Fcntl qw(O_RDONLY O_WRONLY O_NONBLOCK);
use POSIX qw(mkfifo);
use Time::HiRes qw(time);
use Clusterd;

# F_GETPIPE_SZ of a worker's pipe, through a second open of it (for
# writing: a reader might take its lines).
sub pipe_size {
	my ($path) = @_;
	sysopen(my $fh, $path, O_WRONLY | O_NONBLOCK) or return "$path: $!";
	my $sz = fcntl($fh, 1032, 0);	# F_GETPIPE_SZ (Linux)
	close($fh);
	return $sz // "F_GETPIPE_SZ: $!";
}

my $prefix_conf = write_file("$TMPDIR/prefix.conf",
    "[clusterd]\nlog_prefix = yes\n");

# The worker: a few lines on each stream, a line written in two parts, a
# 10000-byte line, and a last line without a newline.
my $long = join('', map { sprintf('%05d', $_) } 1 .. 2000);	# 10000 bytes
my $worker = write_file("$TMPDIR/lines.pl", <<'END');
use strict;
use IO::Handle;
STDOUT->autoflush(1);
STDERR->autoflush(1);
my ($dir) = @ARGV;
my $long = join('', map { sprintf('%05d', $_) } 1 .. 2000);
my $id = $ENV{CLUSTERD_WORKER_ID};
sub wait_go {	# open blocks until the test opens the FIFO to write
	my ($f) = @_;
	open(my $fh, '<', $f) or die "$f: $!\n";
	close($fh);
}
print STDOUT "out one from $id\n";
print STDERR "err one from $id\n";
print STDOUT "part";
print STDERR "wrote part $id\n";
wait_go("$dir/go-$id");
print STDOUT "ial $id\n";
print STDOUT "$long\n";
print STDERR "err two from $id\n";
print STDOUT "tail end $id";
exit 0;
END

sub wlines {	# {id => [[pid, text]...]} of the prefixed lines in $text
	my ($text) = @_;
	my %w;
	for (split(/\n/, $text)) {
		push(@{ $w{$1} }, [$2, $3]) if /^worker (\d+) \(pid (\d+)\): (.*)\z/;
	}
	return \%w;
}

# 1. log_prefix = yes, two workers, run once (restart = never).
for my $id (0, 1) {
	mkfifo("$TMPDIR/go-$id", 0600) or die "mkfifo: $!";
}
my $once_conf = write_file("$TMPDIR/once.conf",
    "[clusterd]\nlog_prefix = yes\n[program]\nrestart = never\n");
my $c = start_clusterd(split => 1, args => ['-c', $once_conf, '-n', 2,
    '-l', 'none', '--', 'perl', $worker, $TMPDIR]);
my %pid;
ok($c->wait_log(qr/^worker 1 \(pid \d+\): wrote part 1$/m)
    && $c->wait_log(qr/^worker 0 \(pid \d+\): wrote part 0$/m),
    'stderr lines of both workers, prefixed, on clusterd\'s stderr');
for my $id (0, 1) {
	($pid{$id}) = $c->log_matches(qr/^clusterd: worker $id \(pid (\d+)\) started$/m);
}
my $out = sub { slurp($c->{out}) // '' };
ok(wait_for(sub { $out->() =~ /^worker 1 \(pid \d+\): out one from 1$/m
    && $out->() =~ /^worker 0 \(pid \d+\): out one from 0$/m }, 5,
    'stdout lines'), 'stdout lines, prefixed, on clusterd\'s stdout');
# The first half of the split line is in the pipe: it must wait.
ok(!wait_for(sub { $out->() =~ /part\s*$/m }, 0.3, '(nothing: a partial line)'),
    'a partial line is not written before its newline');
# Opening a FIFO to write without blocking works once its reader has it
# open: then the worker goes on.
for my $id (0, 1) {
	my $go;
	ok(wait_for(sub { sysopen($go, "$TMPDIR/go-$id", O_WRONLY | O_NONBLOCK) },
	    5, "worker $id waiting for go"), "worker $id told to go");
	close($go) if $go;
}
is(wait_exit($c, 10), 0, 'both workers exit 0: clusterd exits 0');

my $o = wlines(slurp($c->{out}) // '');
my $e = wlines(slurp($c->{err}) // '');
for my $id (0, 1) {
	my $p = $pid{$id} // 0;
	my @o = @{ $o->{$id} // [] };
	is(scalar(grep { $_->[0] != $p } @o, @{ $e->{$id} // [] }), 0,
	    "worker $id: every line carries its pid $p");
	my @text = map { $_->[1] } @o;
	is_deeply([grep { !/^\d{5}/ } @text],
	    ["out one from $id", "partial $id", "tail end $id"],
	    "worker $id stdout: whole lines, the split one joined, the last one without newline written at exit");
	my @pieces = grep { /^\d{5}/ } @text;
	# Up to 64 KiB a line goes out whole.
	is_deeply([map { length } @pieces], [10000],
	    "worker $id: the 10000-byte line whole");
	is(join('', @pieces), $long, "worker $id: nothing of it lost");
	is_deeply([map { $_->[1] } @{ $e->{$id} // [] }],
	    ["err one from $id", "wrote part $id", "err two from $id"],
	    "worker $id stderr: its lines in order, on clusterd's stderr");
}
unlike(slurp($c->{out}) // '', qr/^clusterd:/m, 'clusterd\'s own log stays on stderr');
unlike(slurp($c->{err}) // '', qr/^worker \d+ \(pid \d+\): (out one|partial|tail end)/m,
    'no stdout line on stderr');
unlike((slurp($c->{out}) // '') . (slurp($c->{err}) // ''),
    qr/^(?!worker \d+ \(pid \d+\): |clusterd: ).+$/m,
    'no unprefixed line anywhere');

# What a worker says while it stops is kept, to the last unterminated line.
my $bye = write_file("$TMPDIR/bye.pl", <<'END');
$| = 1;
$SIG{TERM} = sub {
	print "bye\n";
	print STDERR "bye on stderr\n";
	print "last words";
	exit 0;
};
print "hi\n";
sleep 100;
END
$c = start_clusterd(split => 1, args => ['-c', $prefix_conf, '-n', 1,
    '-l', 'none', '--', 'perl', $bye]);
ok(wait_for(sub { (slurp($c->{out}) // '') =~ /^worker 0 \(pid \d+\): hi$/m }, 5,
    'hi'), 'a line before the stop');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');
like(slurp($c->{out}) // '', qr/^worker 0 \(pid \d+\): bye\nworker 0 \(pid \d+\): last words\n\z/m,
    'the stopping worker\'s last lines are written, the unterminated one too');
like($c->log_text, qr/^worker 0 \(pid \d+\): bye on stderr\n(?s:.*)^clusterd: stopped$/m,
    'and its stderr before "clusterd: stopped"') or diag($c->log_text);

# 2. The default: the worker's stdout and stderr are clusterd's own.
$c = start_clusterd(split => 1, args => ['-n', 1, '-l', 'none', '--',
    'sleep', '1000']);
my @w = wait_workers($c->pid, 1, 5, 'sleep');
my $fds = proc_fds($w[0] // 0) // {};
is($fds->{1}, $c->{out}, 'default: worker stdout is clusterd\'s stdout');
is($fds->{2}, $c->{err}, 'default: worker stderr is clusterd\'s stderr');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

$c = start_clusterd(split => 1, args => ['-c', $prefix_conf, '-n', 1,
    '-l', 'none', '--', 'sleep', '1000']);
@w = wait_workers($c->pid, 1, 5, 'sleep');
$fds = proc_fds($w[0] // 0) // {};
like($fds->{1} // '', qr/^pipe:/, 'log_prefix: worker stdout is a pipe');
like($fds->{2} // '', qr/^pipe:/, 'log_prefix: worker stderr is a pipe');
isnt($fds->{1} // '', $fds->{2} // '', 'two pipes');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 3. A worker floods stdout; clusterd's stdout is a FIFO nobody reads.
# The workers are held back (they block in write(), as they would on the
# FIFO itself), clusterd sleeps meanwhile, keeps answering clusterctl at
# once, and stops at once.
my $fifo = "$TMPDIR/out.fifo";
mkfifo($fifo, 0600) or die "mkfifo: $!";
sysopen(my $rd, $fifo, O_RDONLY | O_NONBLOCK) or die "$fifo: $!";
my $ctl = "$TMPDIR/flood.sock";
# 1000 lines a write: the pipe is full before clusterd reads it.
my $flood = 'my $l = (("y" x 99) . "\n") x 1000; syswrite(STDOUT, $l) while 1';
# perl opens the FIFO as stdout (we hold its read end) and execs clusterd.
$c = start_clusterd(binary => $^X, args => ['-e',
    'open(STDOUT, ">", shift) or die "fifo: $!"; exec { $ARGV[0] } @ARGV',
    $fifo, $CLUSTERD, '-c', $prefix_conf, '-s', $ctl, '-n', 2, '-l', 'none',
    '--', 'perl', '-e', $flood]);
@w = wait_workers($c->pid, 2, 5, 'perl');
is(scalar(@w), 2, 'two flooding workers');
# The FIFO, clusterd's queue and the pipes fill; then the workers wait.
ok(wait_for(sub {
	!grep { (slurp("/proc/$_/wchan") // '') !~ /pipe_write/ } @w
}, 10, 'both workers blocked in write()'),
    'backpressure: the workers wait in write() on their pipes');
my @wchar = map { (slurp("/proc/$_/io") // '') =~ /^wchar: (\d+)/m ? $1 : -1 } @w;
ok(!grep({ $_ < 0 || $_ > 4 << 20 } @wchar),
    'having written less than 4 MiB each: nothing was read and dropped')
    or diag("wchar: @wchar");
# A pipe a read found full is enlarged once, to 256 KiB, and read 256 KiB
# at a time: a flood then costs a quarter of the reads and writes. The
# quiet stderr keeps the kernel's default.
# A read finds a pipe full when clusterd reads again after a pause, so
# the FIFO is read a little until both are (however the first pass went).
my %pipe_sz;
my $sip = sub {
	my $buf;
	for (1 .. 16) { last unless sysread($rd, $buf, 1 << 16) }
};
wait_for(sub {
	$sip->();
	%pipe_sz = map { my $w = $_; ($w => [map { pipe_size("/proc/$w/fd/$_") } 1, 2]) } @w;
	return !grep { ($pipe_sz{$_}[0] // 0) != 256 << 10 } @w;
}, 10, 'both stdout pipes enlarged');
is_deeply([map { $pipe_sz{$_}[0] } @w], [256 << 10, 256 << 10],
    'the flooders\' stdout pipes were enlarged to 256 KiB')
    or diag(explain(\%pipe_sz));
is_deeply([map { $pipe_sz{$_}[1] } @w], [64 << 10, 64 << 10],
    'their quiet stderr pipes were not')
    or diag(explain(\%pipe_sz));
ok(wait_for(sub {
	!grep { (slurp("/proc/$_/wchan") // '') !~ /pipe_write/ } @w
}, 10, 'both workers blocked again'), 'the reader stopped: they wait in write() again');
my ($t0, $cpu0) = (time(), proc_cpu($c->pid));
sleep(1);
my $cpu = (proc_cpu($c->pid) // 9) - ($cpu0 // 0);
ok($cpu < 0.2 * (time() - $t0), 'clusterd idle meanwhile')
    or diag(sprintf('%.2f s of CPU in %.2f s', $cpu, time() - $t0));
my @took;
for (1 .. 5) {
	my $t = time();
	my ($code) = run_clusterctl(args => ['-s', $ctl, 'status'],
	    timeout => 2);
	push(@took, time() - $t);
	is($code, 0, 'clusterctl status answers: exit 0') or last;
}
my ($max) = sort { $b <=> $a } @took;
ok(($max // 9) < timeout(1), 'each in well under a second')
    or diag("took: @took");
# The reader goes away: SIGPIPE/EPIPE must not kill clusterd; what the
# workers write now is dropped, and counted.
close($rd);
my ($code) = clusterctl($ctl, 'status');
is($code, 0, 'the FIFO reader gone: clusterd still answers');
ok(alive($c->pid), 'and lives');
my $t = time();
kill TERM => $c->pid;
is(wait_exit($c, 5), 0, 'SIGTERM: exit 0');
ok(time() - $t < timeout(3), 'stopped promptly while the workers flooded');
my @warn = grep { /lost|dropped|discarded/i } split(/\n/, $c->log_text);
is(scalar(@warn), 1, 'the lost lines are counted in one warning')
    or diag(@warn ? join("\n", @warn) : 'no warning');
like($warn[0] // '', qr/\d+/, 'with a count') if @warn;

# 4. Eighteen flooders, clusterd's stdout a FIFO nobody reads: each pipe is
# read full once before the queue fills, but only 16 are enlarged, so that
# the user's quota of pipe pages (pipe-user-pages-soft) is not used up.
$fifo = "$TMPDIR/out18.fifo";
mkfifo($fifo, 0600) or die "mkfifo: $!";
sysopen($rd, $fifo, O_RDONLY | O_NONBLOCK) or die "$fifo: $!";
$c = start_clusterd(binary => $^X, args => ['-e',
    'open(STDOUT, ">", shift) or die "fifo: $!"; exec { $ARGV[0] } @ARGV',
    $fifo, $CLUSTERD, '-c', $prefix_conf, '-n', 18, '-l', 'none',
    '--', 'perl', '-e', $flood]);
@w = wait_workers($c->pid, 18, 10, 'perl');
is(scalar(@w), 18, 'eighteen flooding workers');
ok(wait_for(sub {
	!grep { (slurp("/proc/$_/wchan") // '') !~ /pipe_write/ } @w
}, 20, 'all blocked in write()'), 'all wait in write() on their pipes');
# As above: reading the FIFO lets clusterd read every pipe full.
my %by_size;
wait_for(sub {
	my $buf;
	for (1 .. 16) { last unless sysread($rd, $buf, 1 << 16) }
	%by_size = ();
	$by_size{pipe_size("/proc/$_/fd/1")}++ for @w;
	return ($by_size{256 << 10} // 0) >= 16;
}, 20, '16 pipes enlarged');
is_deeply(\%by_size, { 256 << 10 => 16, 64 << 10 => 2 },
    '16 pipes enlarged to 256 KiB, the other 2 left at 64 KiB')
    or diag(explain(\%by_size));
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM: exit 0');
close($rd);

done_testing();
