# Issue 11 §3: supervision never waits on a log write.
#
# 1. clusterd's stderr goes to a FIFO nobody reads while workers crash in
#    a loop (many log lines) and one floods its stderr through log_prefix:
#    clusterctl status answers at once, respawns go on, clusterd's CPU
#    stays near idle when there is nothing to do, and the count of the
#    lines it had to drop is logged once the reader drains the FIFO.
#    SIGTERM stops a stalled clusterd promptly.
# 2. log_prefix with a slow reader: a flooding worker, a quiet one and
#    one writing a 1 MiB line without newline lose nothing; the flooder
#    is held back instead (backpressure); lines never interleave.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Fcntl qw(O_RDONLY O_NONBLOCK);
use POSIX qw(mkfifo);
use Time::HiRes qw(time sleep);
use Clusterd;

use constant F_SETPIPE_SZ => 1031;
use constant FIONREAD => 0x541B;

# perl opens the FIFO as clusterd's stdout or stderr and execs clusterd.
sub via_fifo {
	my ($which, $fifo, @args) = @_;
	return (binary => $^X, args => ['-e',
	    "open($which, '>', shift) or die \"fifo: \$!\"; exec { \$ARGV[0] } \@ARGV",
	    $fifo, $CLUSTERD, @args]);
}

sub fifo_reader {
	my ($fifo, $size) = @_;
	mkfifo($fifo, 0600) or die "mkfifo $fifo: $!";
	sysopen(my $rd, $fifo, O_RDONLY | O_NONBLOCK) or die "$fifo: $!";
	# A small pipe fills with a few lines, as a stalled journal would.
	fcntl($rd, F_SETPIPE_SZ, $size) or die "F_SETPIPE_SZ: $!" if $size;
	return $rd;
}

sub queued {	# bytes waiting in the pipe of read end $fh
	my ($fh) = @_;
	my $n = pack('i', 0);
	ioctl($fh, FIONREAD, $n) or return 0;
	return unpack('i', $n);
}

# Read what is there: appended to $$buf; 0 at end of file.
sub drain {
	my ($fh, $buf, $max) = @_;
	my $r = sysread($fh, $$buf, $max // 65536, length($$buf));
	return defined($r) ? $r : -1;
}

sub restarts {
	my ($ctl) = @_;
	my $st = ctl_status($ctl) or return -1;
	my $n = 0;
	$n += $_->{restarts} // 0 for @{ $st->{workers} // [] };
	return $n;
}

sub status_time {	# seconds clusterctl status took, or undef on failure
	my ($ctl) = @_;
	my $t = time();
	my ($code) = run_clusterctl(args => ['-s', $ctl, 'status'], timeout => 3);
	return defined($code) && $code <= 3 ? time() - $t : undef;
}

# A crash loop as fast as clusterd can respawn: lines by the thousand.
my $crash = write_file("$TMPDIR/crash.conf", <<'END');
[program]
stable_after = 1ms
backoff_initial = 1ms
backoff_max = 1ms
END

# 1a. Stalled, then drained. Worker 0 writes 420 KB to its stderr (1.5 MB
# with prefixes): relayed output may fill clusterd's queue up to 1 MiB, and
# its own lines the last 64 KiB. Each respawn of the others logs two lines, 100 bytes or more:
# 1000 of them fill the pipe and the queue, and the rest is dropped.
my $crash_prefix = write_file("$TMPDIR/crash-prefix.conf",
    "[clusterd]\nlog_prefix = yes\n" . slurp($crash));
my $fifo = "$TMPDIR/err1.fifo";
my $rd = fifo_reader($fifo, 4096);
my $ctl = "$TMPDIR/c1.sock";
my $c = start_clusterd(via_fifo('STDERR', $fifo, '-c', $crash_prefix, '-s', $ctl,
    '-n', 8, '-l', 'none', '--', '/bin/sh', '-c',
    'test "$CLUSTERD_WORKER_ID" = 0 || exit 1; yes flood | head -n 70000 >&2; exec sleep 1000'));
ok(wait_for(sub { restarts($ctl) >= 1000 }, 60, '1000 respawns'),
    'stderr stalled: clusterd respawns on (1000 and more)');
# A pipe of one page is full as soon as it holds anything: clusterd then
# waits for the reader to empty it (no write is tried before).
ok(queued($rd) > 0, 'the FIFO is full') or diag('queued: ' . queued($rd));
my @took = map { status_time($ctl) } 1 .. 3;
is(scalar(grep { defined && $_ < timeout(1) } @took), 3,
    'clusterctl status answers at once, three times')
    or diag('took: ' . join(' ', map { $_ // 'failed' } @took));
my $r0 = restarts($ctl);
ok(wait_for(sub { restarts($ctl) >= $r0 + 100 }, 10, '100 more respawns'),
    'and respawns go on');
# Nothing to do but a blocked stderr: the loop must sleep, not spin.
my ($code) = clusterctl($ctl, 'scale', 0);
is($code, 0, 'scale 0 while stderr is stalled');
ok(wait_for(sub { !live_workers($c->pid) }, 10, 'no worker left'),
    'every worker gone');
my ($t0, $cpu0) = (time(), proc_cpu($c->pid));
sleep(1);
my $cpu = (proc_cpu($c->pid) // 9) - ($cpu0 // 0);
# A spin on the blocked file would show as a whole core.
ok($cpu < 0.2 * (time() - $t0), 'clusterd idle meanwhile')
    or diag(sprintf('%.2f s of CPU in %.2f s', $cpu, time() - $t0));
($code) = clusterctl($ctl, 'scale', 2);
is($code, 0, 'scale 2');
# The reader comes back and reads everything: the count comes out.
my $text = '';
ok(wait_for(sub { drain($rd, \$text); $text =~ /log lines? dropped/ }, 20,
    'the drop count'), 'once the reader drains stderr, the drop count is logged');
my ($lost) = $text =~ /^clusterd: (\d+) log lines? dropped: stderr did not take them in time/m;
ok(($lost // 0) > 0, 'with the number of lines dropped')
    or diag(substr($text, -2000));
ok(wait_for(sub { drain($rd, \$text); $text =~ /dropped.*\n(?s:.*)^clusterd: worker \d+ \(pid \d+\) started$/m },
    10, 'lines after the count'), 'and lines go on after it');
kill TERM => $c->pid;
ok(wait_for(sub { drain($rd, \$text); !alive($c->pid) }, 15, 'exit'), 'SIGTERM: clusterd exits');
is(wait_exit($c, 5), 0, 'exit 0');
drain($rd, \$text) for 1 .. 3;
like($text, qr/^clusterd: stopped$/m, '"stopped" reaches the reader');
my @bad = grep { !/^(clusterd: |worker 0 \(pid \d+\): flood$)/ } split(/\n/, $text);
is(scalar(@bad), 0, 'every line whole') or diag(join("\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]));
close($rd);

# 1b. Stalled to the end: SIGTERM still stops clusterd at once (it waits
# at most a second for the reader before it exits).
$fifo = "$TMPDIR/err2.fifo";
$rd = fifo_reader($fifo, 4096);
$ctl = "$TMPDIR/c2.sock";
$c = start_clusterd(via_fifo('STDERR', $fifo, '-c', $crash, '-s', $ctl,
    '-n', 4, '-l', 'none', '--', '/bin/false'));
ok(wait_for(sub { restarts($ctl) >= 300 }, 30, '300 respawns')
    && queued($rd) > 3000, 'stderr stalled, the FIFO full');
my $t = time();
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM while stalled: exit 0');
ok(time() - $t < timeout(3), 'promptly') or diag(sprintf('%.2f s', time() - $t));
close($rd);

# 2. log_prefix, a slow reader of clusterd's stdout: a flooder (worker 0),
# a quiet worker (1), a 1 MiB line without newline (2). Nothing is lost.
my $NFLOOD = 20000;
my $NQUIET = 50;
my $worker = write_file("$TMPDIR/writers.pl", <<'END');
use strict;
my ($nflood, $nquiet) = @ARGV;
my $id = $ENV{CLUSTERD_WORKER_ID};
sub out { my ($s) = @_; while (length $s) { my $n = syswrite(STDOUT, $s) // die "write: $!"; substr($s, 0, $n) = '' } }
if ($id == 0) {		# 16 KiB writes, as stdio with a big buffer
	my $b = '';
	for my $i (1 .. $nflood) {
		$b .= sprintf("F %06d %s\n", $i, 'x' x 90);
		if (length($b) >= 16384) { out($b); $b = '' }
	}
	out($b);
} elsif ($id == 1) {
	for my $i (1 .. $nquiet) {
		out(sprintf("Q %03d\n", $i));
		select(undef, undef, undef, 0.02);
	}
} else {
	out(substr(join('', map { sprintf('%07d', $_) } 0 .. 150000), 0, 1 << 20));
}
exit 0;
END
my $long = substr(join('', map { sprintf('%07d', $_) } 0 .. 150000), 0, 1 << 20);
my $once = write_file("$TMPDIR/once.conf",
    "[clusterd]\nlog_prefix = yes\n[program]\nrestart = never\n");
$fifo = "$TMPDIR/out.fifo";
$rd = fifo_reader($fifo);
$c = start_clusterd(via_fifo('STDOUT', $fifo, '-c', $once, '-n', 3, '-l', 'none',
    '--', 'perl', $worker, $NFLOOD, $NQUIET));
ok($c->wait_log(qr/^clusterd: 3 workers ready$/m), 'three writers');
$text = '';
my $eof;
my $end = time() + timeout(60);
while (time() < $end) {		# 8 KiB every 2 ms at most: a slow reader
	my $r = drain($rd, \$text, 8192);
	if ($r == 0) { $eof = 1; last }
	sleep(0.002);
}
ok($eof, 'read to the end: clusterd closed its stdout');
is(wait_exit($c, 10), 0, 'the writers done, clusterd exits 0');
my %seq;
@bad = ();
for my $l (split(/\n/, $text)) {
	my ($id, $s) = $l =~ /^worker (\d) \(pid \d+\): (.*)\z/s
	    or push(@bad, $l), next;
	push(@{ $seq{$id} }, $s);
}
is(scalar(@bad), 0, 'every line prefixed: none interleaved with another')
    or diag('bad: ' . substr(join("\n", @bad), 0, 500));
my @f = map { /^F (\d{6}) x{90}\z/ ? $1 + 0 : -1 } @{ $seq{0} // [] };
is(scalar(@f), $NFLOOD, "flooder: $NFLOOD lines, none lost");
is_deeply(\@f, [1 .. $NFLOOD], 'flooder: each whole, in order')
    if @f == $NFLOOD;
is_deeply($seq{1}, [map { sprintf('Q %03d', $_) } 1 .. $NQUIET],
    "quiet worker: its $NQUIET lines, none lost");
my @pieces = @{ $seq{2} // [] };
ok(@pieces >= 16 && !(grep { length > 65536 } @pieces),
    '1 MiB line without newline: in pieces of 64 KiB at most, each prefixed')
    or diag('pieces: ' . join(' ', map { length } @pieces));
ok(join('', @pieces) eq $long, 'and whole in content');
my @warn = grep { /dropped|lost/ } split(/\n/, $c->log_text);
is(scalar(@warn), 0, 'no loss reported') or diag(@warn);
close($rd);

done_testing();
