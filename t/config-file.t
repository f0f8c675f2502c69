# The config file must be a regular file. A FIFO (open() would wait for a
# writer), a device (/dev/zero never ends) or a directory is refused without
# blocking: at start with exit 2 and "clusterd: FILE: not a regular file",
# at a reload (SIGHUP, clusterctl reload) with the running config kept, and
# the loop goes on answering status, reaping workers and obeying SIGTERM
# while such a path is configured. -c /dev/stdin reads a redirected file and
# refuses a pipe.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(mkfifo);
use Clusterd;

my $fifo = "$TMPDIR/fifo.conf";
my $zero = "$TMPDIR/zero.conf";
my $dir = "$TMPDIR/dir.conf";
mkfifo($fifo, 0600) or die "mkfifo: $!";
symlink('/dev/zero', $zero) or die "symlink: $!";
mkdir($dir) or die "mkdir: $!";

my @kinds = ([$fifo, 'a FIFO'], [$zero, 'a character device'], [$dir, 'a directory']);

# At start, and with --check.
for my $k (@kinds) {
	my ($path, $what) = @$k;
	for my $check (0, 1) {
		my $how = $check ? '--check' : 'start';
		my ($code, $out, $err) = run_clusterd(args => ['-c', $path,
		    $check ? ('--check') : (), '--', '/bin/true'], timeout => 5);
		is($code, 2, "$how with $what: exit 2");
		like($err, qr/^clusterd: \Q$path\E: not a regular file \(\Q$what\E\)$/m,
		    "$how with $what: FILE: not a regular file ($what)");
	}
}

# /dev/stdin: a redirected file is a regular file and is read; a pipe is not.
my $small = write_file("$TMPDIR/small.conf", "[clusterd]\nworkers = 3\n"
    . "[program]\ncommand = /bin/true\n");
my $c = start_clusterd(binary => '/bin/sh', split => 1, args => ['-c',
    'exec "$0" --check -c /dev/stdin < "$1"', $CLUSTERD, $small]);
is(wait_exit($c), 0, '--check -c /dev/stdin < FILE: exit 0');
like(slurp($c->{out}) // '', qr/^workers = 3$/m, '... and the file was read (workers = 3)');
$c = start_clusterd(binary => '/bin/sh', split => 1, args => ['-c',
    'cat "$1" | "$0" --check -c /dev/stdin', $CLUSTERD, $small]);
is(wait_exit($c), 2, '--check -c /dev/stdin from a pipe: exit 2');
like(slurp($c->{err}) // '', qr/^clusterd: \/dev\/stdin: not a regular file \(a FIFO\)$/m,
    '... /dev/stdin: not a regular file (a FIFO)');

# A regular file of one endless line is read in bounded memory: only what
# a valid line can hold is kept (it used to grow a buffer to the whole line).
my $long = "$TMPDIR/long.conf";
open(my $lf, '>', $long) or die "$long: $!";
print $lf "[program]\ncommand = ";
print $lf 'x' x (1 << 20) for 1 .. 48;
close($lf);
my $asan = (slurp($CLUSTERD) // '') =~ /__asan_init/;
my @limit = $asan ? () : ('/usr/bin/prlimit', '--data=16777216');	# ASan reserves far more
my ($lcode, undef, $lerr) = run_clusterd(binary => @limit ? $limit[0] : $CLUSTERD,
    args => [@limit ? ($limit[1], $CLUSTERD) : (), '--check', '-c', $long], timeout => 20);
is($lcode, 2, 'a 48 MiB line' . (@limit ? ' under a 16 MiB data limit' : '') . ': exit 2');
like($lerr // '', qr/^clusterd: \Q$long\E:2: line too long \(max 199 characters\)$/m,
    '... FILE:2: line too long');

# At reload: the running config stays, the loop never waits.
my $ctl = "$TMPDIR/ctl.sock";
my $conf = "$TMPDIR/web.conf";
sub config {
	my ($n) = @_;
	unlink($conf);
	rmdir($conf);
	write_file($conf, "[clusterd]\nworkers = $n\ncontrol = $ctl\n"
	    . "[program]\ncommand = /bin/sleep 1000\n");
}
config(2);
$c = start_clusterd(args => ['-c', $conf]);
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m), 'a pool of 2 runs');
my @w = sort { $a <=> $b } live_workers($c->pid, 'sleep');
is(scalar(@w), 2, 'two workers');

my $refusals = 0;
for my $k (@kinds) {
	my (undef, $what) = @$k;
	unlink($conf);
	if ($what eq 'a FIFO') {
		mkfifo($conf, 0600) or die "mkfifo: $!";
	} elsif ($what eq 'a directory') {
		mkdir($conf) or die "mkdir: $!";
	} else {
		symlink('/dev/zero', $conf) or die "symlink: $!";
	}
	kill HUP => $c->pid;
	$refusals++;
	ok(wait_for(sub { (() = log_text($c) =~ /reload refused: \Q$conf\E: not a regular/g)
	    == $refusals }, 5, "SIGHUP refused with $what"),
	    "$what: SIGHUP refused");
	ok($c->log_matches(qr/^clusterd: reload refused: \Q$conf\E: not a regular file \(\Q$what\E\)$/m),
	    "$what: log: reload refused: FILE: not a regular file ($what)");
	my $st = ctl_status($ctl);
	ok($st, "$what: status answers after the SIGHUP");
	is($st && $st->{workers_ready}, 2, "$what: 2 workers ready");
	my ($code, $out, $err) = run_clusterctl(args => ['-s', $ctl, 'reload'], timeout => 10);
	$refusals++;
	is($code, 1, "$what: clusterctl reload exits 1");
	like($out . $err, qr/\Q$conf\E: not a regular file \(\Q$what\E\)/,
	    "$what: clusterctl reload says why") or diag($out, $err);
	is_deeply([sort { $a <=> $b } live_workers($c->pid, 'sleep')], \@w,
	    "$what: the same workers");
}

# A good file again is read: the config kept was the old one (2 workers).
config(3);
my ($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'a regular file again: reload exit 0') or diag($out, $err);
like($out . $err, qr/workers 2 -> 3/, 'reload: workers 2 -> 3');

# A FIFO in place: a dead worker is still reaped and replaced, and SIGTERM
# still stops everything.
unlink($conf);
mkfifo($conf, 0600) or die "mkfifo: $!";
kill HUP => $c->pid;
$refusals++;
ok(wait_for(sub { (() = log_text($c) =~ /reload refused: \Q$conf\E: not a regular file/g)
    == $refusals }, 5, 'the last refusal'), 'FIFO again: refused');
@w = sort { $a <=> $b } live_workers($c->pid, 'sleep');
is(scalar(@w), 3, 'three workers');
kill KILL => $w[0];
ok($c->wait_log(qr/^clusterd: worker \d+ \(pid $w[0]\) killed by signal 9; restarting now$/m),
    'a worker killed meanwhile is replaced');
ok(wait_for(sub { !child_zombies($c->pid) && live_workers($c->pid, 'sleep') == 3 }, 5,
    'three workers, no zombie'), 'no zombie, three workers again');
kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'SIGTERM with a FIFO configured: exit 0');
ok(!(grep { alive($_) } @w[1, 2]), 'the workers are gone');

done_testing();
