# Tests that need a pure cgroup v2 hierarchy (issue 13), run inside a small
# qemu VM: this machine keeps its memory controller in cgroup v1, so
# memory.max, memory.high, pids.max and cpu.max can only be had on a kernel
# of our own.  The VM (t/lib/VM.pm, t/vm/init.c) boots the host's Debian
# kernel under TCG with cgroup_no_v1=all, shares the host's / read-only,
# and runs each file of @INNER there with the host's perl and this build;
# each becomes one test here, with its TAP in diag when it fails.  Skips
# only when qemu, a kernel with its 9p modules or a static libc is missing;
# a VM that does not boot, or lacks the controllers, is a failure.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use VM;

# Run inside the VM, relative to top_srcdir; a file not there is skipped.
my @INNER = qw(
	t/hello.t
	t/cgroup-memory.t
	t/cgroup-limits.t
	t/cgroup-recycle.t
	t/cgroup.t
);
# TCG runs the guest slower than the host: clusterd -n 4 was ready 0.165 s
# after its start inside against 0.058 s here, perl took 4 s to start
# against 1 s, and a loaded host slows the guest's two CPU threads more
# than its own processes.
my $SLOW_INSIDE = 6;
my $LIMIT = 120;	# seconds for each inner test (times CLUSTERD_TEST_SLOW)

my $why = vm_unavailable();
plan(skip_all => $why) if $why;

my @run = grep { -f "$TOP_SRCDIR/$_" } @INNER;
my $r = vm_run_tests(\@run, slow => $SLOW_INSIDE * $Clusterd::SLOW,
    limit => $LIMIT);
note(sprintf('VM: kernel %s, %.1fs from qemu start to power off',
    $r->{kernel} // '?', $r->{secs} // 0));

my $console_shown;
sub show_console {
	return if $console_shown++;
	my @l = split(/\n/, $r->{console} // '');
	splice(@l, 0, @l - 80) if @l > 80;
	diag('VM console (last lines):');
	diag("  $_") for @l;
}

ok($r->{ok}, "the VM booted, ran the tests and powered off")
    or do { diag($r->{why}); show_console() };

my $ctl = $r->{controllers};
ok(defined $ctl && !grep({ $ctl !~ /(?:^|\s)\Q$_\E(?:\s|$)/ } qw(memory pids cpu)),
    'the VM\'s cgroup v2 root offers memory, pids and cpu')
    or do {
	diag(defined $ctl ? "cgroup.controllers: $ctl"
	    : 'no cgroup.controllers from the VM (it did not get that far)');
	show_console();
    };

my %t = map { $_->{file} => $_ } @{ $r->{tests} };
for my $file (@INNER) {
	SKIP: {
		skip("$file does not exist", 1) unless $t{$file};
		my ($ok, $summary) = VM::summary($t{$file});
		ok($ok, "$file in the VM: $summary") or do {
			diag("$file TAP:");
			diag("  $_") for split(/\n/, $t{$file}{tap} // '');
			diag("$file stderr:");
			diag("  $_") for split(/\n/, $t{$file}{err} // '');
			show_console() unless defined $t{$file}{rc};
		};
	}
}

done_testing();
