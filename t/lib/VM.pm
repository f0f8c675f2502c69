package VM;

# Run clusterd's TAP tests inside a small qemu VM (TCG, no /dev/kvm needed)
# that boots the host's own Debian kernel with a pure cgroup v2 hierarchy
# (cgroup_no_v1=all: memory, pids and cpu are v2 controllers there), for
# what this machine's hybrid hierarchy cannot show (issue 13).
#
#	use VM;
#	my $why = vm_unavailable() and plan(skip_all => $why);
#	my $r = vm_run_tests(['t/hello.t'], slow => 4, limit => 90);
#
# The VM shares the host's / read-only over 9p and runs the tests in a
# chroot of it, with the host's perl, binaries and build tree, the VM's own
# /proc, /sys, /dev, cgroup2 on /sys/fs/cgroup and tmpfs on /tmp and /run.
# Its /init is t/vm/init.c, built here with -static; the initramfs holds it,
# the 9p modules and /vm.conf.  Results come back through a second,
# writable 9p share; qemu runs under a deadline and is killed by pid.

use strict;
use warnings;
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(basename dirname);
use File::Temp qw(tempdir);
use POSIX qw(:sys_wait_h);
use TAP::Parser;
use Time::HiRes qw(time sleep);
use Clusterd qw($CLUSTERD $CLUSTERCTL $TOP_BUILDDIR $TOP_SRCDIR $TMPDIR
    timeout slurp write_file);

our @EXPORT = qw(vm_unavailable vm_run_tests);

our $QEMU = 'qemu-system-x86_64';
my @MODULES = qw(virtio_pci 9pnet_virtio 9p);	# and what they depend on
my $CC = 'gcc';
my @qemu_pids;			# to kill however the test ends

sub in_path {
	my ($prog) = @_;
	for my $d (split(/:/, $ENV{PATH} // '/usr/bin:/bin')) {
		return "$d/$prog" if -x "$d/$prog";
	}
	return undef;
}

# The kernel to boot: the running one if /boot has it, else the newest
# /boot/vmlinuz-* whose modules are installed.
sub kernel {
	my @have = grep { -r "/boot/vmlinuz-$_" && -r "/lib/modules/$_/modules.dep" }
	    map { m{^/boot/vmlinuz-(.+)$} ? $1 : () } glob('/boot/vmlinuz-*');
	my $running = (POSIX::uname())[2];
	my ($k) = grep({ $_ eq $running } @have);
	($k) = sort { vcmp($b, $a) } @have unless defined $k;
	return $k;
}

sub vcmp {
	my @a = split(/[.-]/, $_[0]);
	my @b = split(/[.-]/, $_[1]);
	while (@a && @b) {
		my ($x, $y) = (shift(@a), shift(@b));
		my $c = ($x =~ /^\d+$/ && $y =~ /^\d+$/) ? $x <=> $y : $x cmp $y;
		return $c if $c;
	}
	return @a <=> @b;
}

# The module files to load, dependencies first (from modules.dep), for
# the modules @MODULES that the kernel does not have built in; dies with a
# reason when one is missing.
sub module_files {
	my ($kver) = @_;
	my $dir = "/lib/modules/$kver";
	my (%path, %deps);
	open(my $fh, '<', "$dir/modules.dep") or die "$dir/modules.dep: $!\n";
	while (<$fh>) {
		my ($m, $d) = /^(\S+):\s*(.*)$/ or next;
		my $name = modname($m);
		$path{$name} = "$dir/$m";
		$deps{$name} = [map { modname($_) } split(' ', $d)];
	}
	close($fh);
	my %builtin = map { (modname($_) => 1) }
	    split(/\n/, slurp("$dir/modules.builtin") // '');
	my (@order, %done);
	my $visit;
	$visit = sub {
		my ($name) = @_;
		return if $done{$name}++ || $builtin{$name};
		die "kernel $kver has no module $name (in $dir)\n"
		    unless $path{$name} && -r $path{$name};
		$visit->($_) for @{ $deps{$name} };
		push(@order, $path{$name});
	};
	$visit->($_) for @MODULES;
	return @order;
}

sub modname {
	my $n = basename($_[0]);
	$n =~ s/\.ko(?:\.(?:xz|zst|gz))?$//;
	$n =~ tr/-/_/;
	return $n;
}

# A module as the kernel's finit_module takes it without flags:
# uncompressed.
sub module_bytes {
	my ($path) = @_;
	my %tool = (xz => 'xz', zst => 'zstd', gz => 'gzip');
	if ($path =~ /\.ko\.(xz|zst|gz)$/) {
		my $tool = $tool{$1};
		die "$path is compressed and $tool is not installed\n"
		    unless in_path($tool);
		open(my $fh, '-|', $tool, '-dc', $path) or die "$tool: $!\n";
		local $/;
		my $b = <$fh>;
		close($fh) or die "$tool -dc $path failed\n";
		return $b;
	}
	return slurp($path) // die "$path: $!\n";
}

# Why the VM cannot run here (a reason for skip_all), or undef.
sub vm_unavailable {
	# The guest runs the host's own binaries and kernel: same architecture.
	my $arch = (POSIX::uname())[4];
	return "the VM is x86-64 (the host's binaries run in it); this is $arch"
	    unless $arch eq 'x86_64';
	return "$QEMU is not installed (Debian package qemu-system-x86)"
	    unless in_path($QEMU);
	my $k = kernel()
	    or return 'no readable /boot/vmlinuz-* with its /lib/modules (Debian package linux-image-amd64)';
	eval { module_files($k) };
	if ($@) {
		chomp(my $e = $@);
		return $e;
	}
	$CC = 'cc' if !in_path($CC) && in_path('cc');
	return 'no C compiler to build the VM\'s /init' unless in_path($CC);
	# A static libc, tried on a program that cannot fail to compile:
	# init.c's own errors are failures, not reasons to skip.
	my $dir = tempdir('vm-cc-XXXXXX', DIR => $TMPDIR, CLEANUP => 1);
	write_file("$dir/t.c", "int main(void) { return 0; }\n");
	system("$CC -static -o '$dir/t' '$dir/t.c' >'$dir/log' 2>&1") == 0
	    or return "$CC -static cannot link (no static libc: Debian package libc6-dev)";
	return undef;
}

# The initramfs as an uncompressed newc cpio (the kernel unpacks it as
# is): $files is a list of [name, mode, content] or [name, mode, undef,
# major, minor] for a device node.
sub cpio {
	my ($files) = @_;
	my ($out, $ino) = ('', 1);
	for my $f (@$files, ['TRAILER!!!', 0, '']) {
		my ($name, $mode, $data, $maj, $min) = @$f;
		$data //= '';
		$out .= sprintf('070701' . ('%08X' x 13), $ino++, $mode, 0, 0,
		    ($mode & 0170000) == 0040000 ? 2 : 1, 0, length($data), 0, 0,
		    $maj // 0, $min // 0, length($name) + 1, 0);
		$out .= "$name\0";
		$out .= "\0" x (-length($out) % 4);
		$out .= $data;
		$out .= "\0" x (-length($out) % 4);
	}
	return $out;
}

# A path inside one of qemu's comma-separated options.
sub qarg {
	(my $s = $_[0]) =~ s/,/,,/g;
	return $s;
}

sub shq {
	my ($s) = @_;
	$s =~ s/'/'\\''/g;
	return "'$s'";
}

# The directories of the build that must stay visible under the VM's
# tmpfs /tmp when they are in the host's /tmp.
sub kept {
	my %k;
	for my $p (@_) {
		next unless defined $p && $p =~ m{^/tmp/};
		$k{$p} = 1;
	}
	my @k = sort keys %k;
	return grep { my $p = $_; !grep { $p =~ m{^\Q$_\E/} } @k } @k;
}

# vm_run_tests([TEST...], slow => FACTOR, limit => SECS, env => {K => V},
# deadline => SECS, append => KERNEL ARGS): boot once, run each test file
# (relative to top_srcdir) with perl inside, with CLUSTERD_TEST_SLOW=FACTOR,
# each killed after `limit` seconds (times the host's CLUSTERD_TEST_SLOW),
# and power off; qemu is killed when the whole run passes `deadline` (by
# default two minutes for the boot, times the host's factor, plus each
# test's limit).  Returns {ok => 1 or 0, why => ..., console => TEXT,
# controllers => TEXT, kernel => VERSION, secs => WALL, tests => [{file,
# tap, err, rc, started, secs}]}.
sub vm_run_tests {
	my ($tests, %o) = @_;
	my $dir = tempdir('vm-XXXXXX', DIR => $TMPDIR, CLEANUP => 1);
	my $out = "$dir/out";
	mkdir($out, 0777) or die "$out: $!";
	my $kver = kernel() or die "no kernel\n";
	my $limit = timeout($o{limit} // 90);

	system("$CC -static -O2 -Wall -o '$dir/init' "
	    . "'$TOP_SRCDIR/t/vm/init.c' >'$dir/cc.log' 2>&1") == 0
	    or return { ok => 0, why => "$CC -static t/vm/init.c failed:\n"
	    . (slurp("$dir/cc.log") // '') };

	# Inside, the VM's own paths: the share at /run/vm-out, /tmp its own.
	my $vout = '/run/vm-out';
	my %env = (
		PATH => '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
		HOME => '/root', TMPDIR => '/tmp', LC_ALL => 'C',
		top_builddir => abs_path($TOP_BUILDDIR),
		top_srcdir => abs_path($TOP_SRCDIR),
		CLUSTERD => abs_path($CLUSTERD),
		CLUSTERCTL => abs_path($CLUSTERCTL),
		CLUSTERD_TEST_SLOW => $o{slow} // 4,
		map({ defined $ENV{$_} ? ($_ => $ENV{$_}) : () }
		    qw(ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS)),
		%{ $o{env} // {} },
	);
	my $sh = "# Written by t/lib/VM.pm; run by the VM's /init in the chroot.\n"
	    . join('', map { "export $_=" . shq($env{$_}) . "\n" } sort keys %env)
	    . "out=$vout\n"
	    . "uname -r >\$out/kernel\n"
	    . "cat /sys/fs/cgroup/cgroup.controllers >\$out/controllers || exit 1\n"
	    . "for c in memory pids cpu; do\n"
	    . "\tgrep -qw \$c \$out/controllers || exit 1\n"
	    . "done\n"
	    . "cd \"\$top_builddir\" || exit 1\n";
	for my $i (0 .. $#$tests) {
		my $t = shq("$env{top_srcdir}/$tests->[$i]");
		$sh .= "date +%s.%N >\$out/$i.start\n"
		    . "timeout -k 5 $limit perl -I\"\$top_srcdir/t/lib\" $t"
		    . " </dev/null >\$out/$i.tap 2>\$out/$i.err\n"
		    . "echo \$? >\$out/$i.rc\n"
		    . "date +%s.%N >\$out/$i.end\n";
	}
	write_file("$out/run.sh", $sh);

	my @mods = module_files($kver);
	my $conf = join('', map { 'module ' . modname($_) . "\n" } @mods)
	    . join('', map { "keep $_\n" } kept(@env{qw(top_builddir top_srcdir)},
	    dirname($env{CLUSTERD}), dirname($env{CLUSTERCTL})))
	    . "out $vout\nrun $vout/run.sh\n";
	write_file("$dir/initramfs", cpio([
	    ['dev', 0040755], ['dev/console', 0020600, undef, 5, 1],
	    ['m', 0040755], ['proc', 0040755],
	    (map { ['m/' . modname($_) . '.ko', 0100644, module_bytes($_)] } @mods),
	    ['vm.conf', 0100644, $conf],
	    ['init', 0100755, slurp("$dir/init")],
	]));

	my @cmd = ($QEMU, '-accel', 'tcg', '-m', 1024, '-smp', 2,
	    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
	    '-serial', 'file:' . qarg("$dir/console"),
	    '-kernel', "/boot/vmlinuz-$kver", '-initrd', "$dir/initramfs",
	    '-append', 'console=ttyS0 panic=-1 cgroup_no_v1=all quiet'
	    . (defined $o{append} ? " $o{append}" : ''),
	    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,'
	    . 'readonly=on,multidevs=remap',
	    '-virtfs', 'local,path=' . qarg($out)
	    . ',mount_tag=out,security_model=none,multidevs=remap');
	# Under a loaded host the boot alone took 40 s (2 s when idle).
	my $deadline = $o{deadline} // timeout(120) + $limit * @$tests;
	my $t0 = time();
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', "$dir/qemu.log");
		open(STDERR, '>&', \*STDOUT);
		exec(@cmd) or POSIX::_exit(127);
	}
	push(@qemu_pids, $pid);
	my $status;
	while (time() - $t0 < $deadline) {
		if (waitpid($pid, WNOHANG) == $pid) {
			$status = $?;
			last;
		}
		sleep(0.1);
	}
	my $secs = time() - $t0;
	my %r = (kernel => $kver, secs => $secs, ok => 1,
	    console => (slurp("$dir/qemu.log") // '')
	    . (slurp("$dir/console") // ''),
	    controllers => slurp("$out/controllers"), tests => []);
	if (!defined $status) {
		kill(KILL => $pid);
		waitpid($pid, 0);
		@r{qw(ok why)} = (0, sprintf('the VM did not power off within %ds'
		    . ' (qemu killed)', $deadline));
	} elsif ($status != 0) {
		@r{qw(ok why)} = (0, "$QEMU exited with status " . ($status >> 8)
		    . ($status & 127 ? ' (signal ' . ($status & 127) . ')' : ''));
	}
	@qemu_pids = grep { $_ != $pid } @qemu_pids;
	$r{console} =~ s/\e\[[0-9;?]*[A-Za-z]|\e[c()][0-9A-Za-z]?|\r//g;
	@r{qw(ok why)} = (0, 'the VM\'s /init did not run the tests to the end')
	    if $r{ok} && $r{console} !~ /^vm-init: \S+ exited with status \d+$/m;
	for my $i (0 .. $#$tests) {
		my ($s, $e) = map { slurp("$out/$i.$_") } qw(start end);
		push(@{ $r{tests} }, { file => $tests->[$i],
		    tap => slurp("$out/$i.tap"), err => slurp("$out/$i.err"),
		    rc => do { my $rc = slurp("$out/$i.rc"); defined $rc
		    && $rc =~ /^(\d+)/ ? $1 : undef },
		    started => $s,
		    secs => defined $s && defined $e ? $e - $s : undef });
	}
	return \%r;
}

# summary($test): (passed, one-line summary) of a test's TAP and status.
sub summary {
	my ($t) = @_;
	return (0, defined $t->{started} ? 'did not finish before the VM was stopped'
	    : 'did not run') unless defined $t->{rc};
	return (0, 'killed after its time limit (timeout)') if $t->{rc} == 124
	    || $t->{rc} == 137;
	return (0, "no TAP output, exit $t->{rc}") if ($t->{tap} // '') eq '';
	my $p = TAP::Parser->new({ tap => $t->{tap} });
	1 while defined $p->next;
	my $secs = defined $t->{secs} ? sprintf(' in %.1fs', $t->{secs}) : '';
	if ($p->skip_all) {
		return ($t->{rc} == 0, "skipped: " . $p->skip_all . $secs);
	}
	my @failed = $p->failed;
	my $ok = $t->{rc} == 0 && !$p->has_problems;
	my $s = $ok ? sprintf('%d tests, all passed', $p->tests_run)
	    : sprintf('%d/%d passed', $p->tests_run - @failed, $p->tests_run);
	$s .= ', failed: ' . join(' ', @failed) if @failed;
	$s .= ', planned ' . ($p->tests_planned // 'none')
	    unless $p->is_good_plan;
	$s .= ", exit $t->{rc}" if $t->{rc} != 0;
	return ($ok, $s . $secs);
}

END {
	my $st = $?;
	for my $pid (@qemu_pids) {
		kill(KILL => $pid);
		waitpid($pid, 0);
	}
	$? = $st;
}

1;
