# The Debian package (issue 17), end to end: dpkg-buildpackage -us -uc -b
# builds clusterd_*.deb from a copy of this tree, lintian finds no error
# and no warning in it, and in a fresh minimal Debian 12 (debootstrap
# --variant=minbase, plus systemd to boot it) booted with systemd as PID 1
# under systemd-nspawn: apt-get install ./clusterd_*.deb pulls exactly
# libev4 and libinih1, starts and enables nothing; clusterd@web.service
# with an /etc/clusterd/web.conf starts and its workers answer HTTP;
# clusterd.service with /etc/clusterd/clusterd.conf too; apt-get remove
# leaves no process of either running; apt-get purge leaves nothing of
# the package but the administrator's two files.
#
# Slow (a package build, lintian, apt-get from the mirror, a boot): not in
# make check but `make check-package`, which .ci/run runs.  The minbase
# root with systemd is made once and cached as a tarball in
# $CLUSTERD_PACKAGE_CACHE (/var/tmp/clusterd-package); the first run
# takes a few minutes more.  Skips, saying why, only where the package
# cannot be built or installed in a container (not root, no
# dpkg-buildpackage, debhelper, lintian, debootstrap, systemd-nspawn); a
# container that does not boot is a failure (t/systemd.t boots one too).  Every wait is bounded and the
# container is halted (or killed) however the test ends.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(:sys_wait_h);
use File::Path qw(make_path remove_tree);
use Clusterd;
use Nspawn;

my $NSPAWN = '/usr/bin/systemd-nspawn';
my $NSENTER = '/usr/bin/nsenter';
plan(skip_all => 'installing a package in a container needs root') if $> != 0;
for (['/usr/bin/dpkg-buildpackage', 'dpkg-dev'], ['/usr/bin/dh', 'debhelper'],
    ['/usr/bin/lintian', 'lintian'], ['/usr/sbin/debootstrap', 'debootstrap'],
    [$NSPAWN, 'systemd-container'], [$NSENTER, 'util-linux']) {
	plan(skip_all => "$_->[0] is needed (Debian package $_->[1])") unless -x $_->[0];
}
plan(skip_all => "$HELLO is not built (make)") unless -x $HELLO;

# run(SECS, CMD...): (exit code or undef on timeout, output); the command's
# process group is killed at the deadline.
sub run {
	my ($secs, @cmd) = @_;
	my $log = "$TMPDIR/run.out";
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		setpgrp(0, 0);
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $log);
		open(STDERR, '>&', \*STDOUT);
		exec(@cmd) or print STDERR "cannot run $cmd[0]: $!\n";
		POSIX::_exit(127);
	}
	my $st;
	my $done = wait_for(sub {
		return 0 if waitpid($pid, WNOHANG) != $pid;
		$st = $?;
		return 1;
	}, $secs, "@cmd");
	unless ($done) {
		kill(KILL => -$pid);
		waitpid($pid, 0);
		return (undef, slurp($log) // '');
	}
	return (WIFEXITED($st) ? WEXITSTATUS($st) : 128 + WTERMSIG($st), slurp($log) // '');
}
sub tail_of { my @l = split(/\n/, $_[0] // ''); return join("\n", @l[($#l > 20 ? $#l - 20 : 0) .. $#l]) }

# --- 1. Build from a copy of the tree: the tracked files of a git
# checkout, else the (unconfigured) tree as it is.
my $SRC = "$TMPDIR/build/clusterd";
make_path($SRC);
my ($code, $text);
if (-d "$TOP_SRCDIR/.git" || -f "$TOP_SRCDIR/.git") {
	($code, $text) = run(120, '/bin/sh', '-c',
	    'cd "$1" && git ls-files -z | xargs -0 cp --parents -t "$2"', 'sh', $TOP_SRCDIR, $SRC);
} else {
	($code, $text) = run(120, '/bin/sh', '-c',
	    'cp -a "$1/." "$2" && cd "$2" && { test ! -f Makefile || make -s distclean; }', 'sh', $TOP_SRCDIR, $SRC);
}
is($code, 0, 'copied the tree') or BAIL_OUT($text);
plan(skip_all => 'this tree has no debian/') unless -f "$SRC/debian/control";
($code, $text) = run(60, '/bin/sh', '-c', 'cd "$1" && dpkg-checkbuilddeps', 'sh', $SRC);
plan(skip_all => "build dependencies missing: $text") if $code;
($code, $text) = run(timeout(600), '/bin/sh', '-c',
    'cd "$1" && dpkg-buildpackage -us -uc -b', 'sh', $SRC);
is($code, 0, 'dpkg-buildpackage -us -uc -b') or diag(tail_of($text));
my ($deb) = glob("$TMPDIR/build/clusterd_*.deb");
my ($changes) = glob("$TMPDIR/build/clusterd_*.changes");
ok($deb && $changes, 'it built clusterd_*.deb') or BAIL_OUT('no package');

# The files that matter, where the build put them.
($code, $text) = run(30, 'dpkg-deb', '-c', $deb);
my %files = map { m{\s\.(/\S+)$} ? ($1 => 1) : () } split(/\n/, $text);
for my $f (qw(/usr/bin/clusterd /usr/bin/clusterctl /usr/libexec/clusterd/clusterd-shim.so
    /lib/systemd/system/clusterd.service /lib/systemd/system/clusterd@.service
    /lib/systemd/system/clusterd@.socket /usr/share/man/man8/clusterd.8.gz
    /usr/share/man/man8/clusterctl.8.gz /usr/share/man/man5/clusterd.conf.5.gz
    /usr/share/doc/clusterd/copyright /usr/share/doc/clusterd/examples/clusterd.conf
    /usr/share/doc/clusterd/examples/k8s/clusterd.yaml
    /usr/share/doc/clusterd/examples/nomad/clusterd.nomad.hcl /etc/clusterd/)) {
	ok($files{$f}, "the package has $f");
}
($code, $text) = run(30, 'dpkg-deb', '-f', $deb, 'Depends');
my %dep = map { /^\s*(\S+)/ ? ($1 => 1) : () } split(/,/, $text);
is_deeply([sort keys %dep], [qw(libc6 libev4 libinih1)], "Depends: $text");
# The shim is found where clusterd looks for it.
($code, $text) = run(30, '/bin/sh', '-c', 'dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/bin/clusterd | grep -c -a /usr/libexec/clusterd/clusterd-shim.so', 'sh', $deb);
ok($code == 0 && $text > 0, 'clusterd looks for the shim at /usr/libexec/clusterd/clusterd-shim.so');

# --- 2. lintian: no error, no warning; --pedantic and the rest noted.
($code, $text) = run(timeout(300), 'lintian', '--fail-on', 'error,warning', $changes);
is($code, 0, 'lintian: no error, no warning') or diag($text);
($code, $text) = run(timeout(300), 'lintian', '--pedantic', '-I', '-E', '--fail-on', 'none', $changes);
note("lintian --pedantic -I -E: $_") for grep { /^\w: / } split(/\n/, $text);
unlike($text, qr/^[EW]: /m, 'lintian --pedantic: no error, no warning either');

# --- 3. A fresh minimal Debian 12 with systemd, from the cache or made now.
my $CACHE = $ENV{CLUSTERD_PACKAGE_CACHE} // '/var/tmp/clusterd-package';
my $BASE = "$CACHE/bookworm-minbase-systemd.tar";
make_path($CACHE);
my $ROOT = "$TMPDIR/root";
my @mounted;
sub unmount_all { run(30, 'umount', '-l', $_) for reverse @mounted; @mounted = () }
END { local $?; unmount_all() }
# The package sources of this machine (its mirror), and its resolver.
sub apt_sources {
	my ($root) = @_;
	system('cp', '-a', '/etc/apt/.', "$root/etc/apt/");
	unlink("$root/etc/apt/sources.list") if glob('/etc/apt/sources.list.d/*.sources')
	    && !-e '/etc/apt/sources.list';
	system('cp', '/etc/resolv.conf', "$root/etc/resolv.conf");
}
unless (-s $BASE) {
	my $mirror = (map { /^URIs:\s*(\S+)/ ? $1 : () }
	    map { split(/\n/, slurp($_) // '') } glob('/etc/apt/sources.list.d/*.sources'))[0]
	    // 'http://deb.debian.org/debian';
	my $made = "$TMPDIR/base";
	($code, $text) = run(timeout(900), 'debootstrap', '--variant=minbase', 'bookworm', $made, $mirror);
	is($code, 0, 'debootstrap --variant=minbase bookworm (once, then cached)')
	    or BAIL_OUT(tail_of($text));
	# systemd, to boot it; from the same sources as this machine.
	apt_sources($made);
	($code, $text) = run(timeout(600), 'chroot', $made, '/bin/sh', '-c',
	    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd && apt-get clean');
	is($code, 0, 'systemd installed in it') or BAIL_OUT(tail_of($text));
	($code, $text) = run(timeout(300), 'tar', '-C', $made, '-cf', "$BASE.new", '.');
	is($code, 0, 'cached as a tarball') or BAIL_OUT($text);
	rename("$BASE.new", $BASE) or BAIL_OUT("$BASE: $!");
	remove_tree($made);
}
make_path($ROOT);
($code, $text) = run(timeout(300), 'tar', '-C', $ROOT, '-xf', $BASE);
is($code, 0, "a fresh root from $BASE") or BAIL_OUT($text);
apt_sources($ROOT);
write_file("$ROOT/etc/machine-id", '');
# Not in /tmp: the booted container mounts a tmpfs there.
write_file("$ROOT/root/" . ($deb =~ s{.*/}{}r), slurp($deb));
# The workers: examples/hello, which needs nothing but libc.
write_file("$ROOT/usr/local/bin/hello", slurp($HELLO), 0755);

# --- 4. Boot it: systemd as PID 1, the host's network (apt-get reaches the
# mirror, this test the workers' port).
my ($nspawn, $leader);
my $out = "$TMPDIR/nspawn.out";
END {
	local $?;
	if ($nspawn) {
		kill(TERM => $nspawn);
		unless (wait_for(sub { waitpid($nspawn, WNOHANG) != 0 }, 20, 'the container to halt')) {
			kill(KILL => $leader) if $leader;
			kill(KILL => $nspawn);
			waitpid($nspawn, 0);
		}
	}
}
$nspawn = fork() // die "fork: $!";
if ($nspawn == 0) {
	$ENV{SYSTEMD_NSPAWN_UNIFIED_HIERARCHY} = 1;
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>', $out);
	open(STDERR, '>&', \*STDOUT);
	setpgrp(0, 0);
	exec($NSPAWN, '-b', '-D', $ROOT, "--machine=clusterd-pkg-$$", '--register=no',
	    '--keep-unit', '--console=passive') or print STDERR "cannot run $NSPAWN: $!\n";
	POSIX::_exit(127);
}

# Commands in the container (all its namespaces).
sub ct {
	my ($secs, @cmd) = @_;
	return run($secs, $NSENTER, '-t', $leader, '-a', '--', '/usr/bin/env',
	    'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'DEBIAN_FRONTEND=noninteractive', @cmd);
}
sub ct_procs { return nspawn_procs($leader, $_[0]) }
my ($booted, $exited) = nspawn_boot(\$nspawn, \$leader,
    sub { (ct(10, 'systemctl', 'is-system-running'))[1] }, timeout(60));
unless ($booted) {
	my @lines = grep { /\S/ } split(/\n/, slurp($out) // '');
	diag($_) for @lines[($#lines > 10 ? $#lines - 10 : 0) .. $#lines];
	BAIL_OUT('cannot boot the container: '
	    . ($exited ? 'systemd-nspawn exited' : 'systemd not running in time')
	    . (@lines ? ": $lines[-1]" : ''));
}
pass("the fresh Debian 12 booted, systemd as PID 1 (host pid $leader)");

# --- 5. apt-get install ./clusterd_*.deb: exactly the runtime libraries,
# nothing started, nothing enabled.
sub installed {
	my (undef, $t) = ct(30, 'dpkg-query', '-W', '-f', '${Package} ${Status}\n');
	return { map { /^(\S+) install ok installed$/ ? ($1 => 1) : () } split(/\n/, $t) };
}
my $before = installed();
ok($before->{systemd} && !$before->{libev4} && !$before->{libinih1}, 'the root has systemd, not libev4 or libinih1');
($code, $text) = ct(timeout(300), 'apt-get', 'update', '-qq');
is($code, 0, 'apt-get update in the container') or diag(tail_of($text));
my $debname = $deb =~ s{.*/}{}r;
($code, $text) = ct(timeout(300), 'apt-get', 'install', '-y', "/root/$debname");
is($code, 0, "apt-get install ./$debname") or diag(tail_of($text));
my $after = installed();
is_deeply([sort grep { !$before->{$_} } keys %$after], [qw(clusterd libev4 libinih1)],
    'it pulled exactly libev4 and libinih1');
for my $u (qw(clusterd.service clusterd@web.service clusterd@web.socket)) {
	my (undef, $state) = ct(30, 'systemctl', 'is-active', $u);
	like($state, qr/^inactive$/m, "$u is not started");
}
($code, $text) = ct(30, 'systemctl', 'is-enabled', 'clusterd.service');
like($text, qr/^disabled$/m, 'clusterd.service is not enabled');
is_deeply([ct_procs(qr/^clusterd$/)], [], 'no clusterd process runs');

# --- 6. clusterd@web.service with /etc/clusterd/web.conf serves.
my $port = free_port();
write_file("$ROOT/etc/clusterd/web.conf", <<"END");
[clusterd]
workers = 2
stop_timeout = 5s
[socket:http]
listen = 127.0.0.1:$port
[program]
command = /usr/local/bin/hello
END
($code, $text) = ct(timeout(60), 'systemctl', 'start', 'clusterd@web.service');
is($code, 0, 'systemctl start clusterd@web.service') or diag($text, (ct(30, 'journalctl', '-u', 'clusterd@web.service', '--no-pager'))[1]);
my %from;
wait_for(sub {
	my $a = http_get('127.0.0.1', $port, '/', 3) // '';
	$from{$1} = 1 if $a =~ /^hello world from worker (\d+) /;
	return keys(%from) >= 2;
}, timeout(20), 'both workers to answer');
is_deeply([sort keys %from], [0, 1], 'the packaged service\'s workers answer HTTP (workers 0 and 1)');
($code, $text) = ct(30, 'clusterctl', '-N', 'web', 'status');
is($code, 0, 'clusterctl -N web status: 0, all ready') or diag($text);
my @workers = ct_procs(qr/^hello$/);
is(scalar(@workers), 2, 'two workers run');

# And clusterd.service, the one-cluster unit, on /etc/clusterd/clusterd.conf.
my $port1 = free_port();
write_file("$ROOT/etc/clusterd/clusterd.conf",
    "[clusterd]\nworkers = 1\n[socket:http]\nlisten = 127.0.0.1:$port1\n[program]\ncommand = /usr/local/bin/hello\n");
($code, $text) = ct(timeout(60), 'systemctl', 'start', 'clusterd.service');
is($code, 0, 'systemctl start clusterd.service') or diag($text);
like(http_get('127.0.0.1', $port1, '/', 3) // '', qr/^hello world from worker 0 /, 'its worker answers');
is(scalar(my @all = ct_procs(qr/^hello$/)), 3, 'three workers run in all');

# --- 7. apt-get remove: nothing left running.
($code, $text) = ct(timeout(120), 'apt-get', 'remove', '-y', 'clusterd');
is($code, 0, 'apt-get remove clusterd') or diag(tail_of($text));
ok(wait_for(sub { !ct_procs(qr/^(clusterd|hello)$/) }, timeout(10), 'clusterd and its workers to be gone'),
    'after remove no clusterd or worker process runs');
for my $u (qw(clusterd@web.service clusterd.service)) {
	my (undef, $state) = ct(30, 'systemctl', 'is-active', $u);
	chomp($state);
	like($state, qr/^(inactive|failed)$/, "$u is stopped ($state)");
}
for my $p ($port, $port1) {
	my $a = http_get('127.0.0.1', $p, '/', 1);
	ok(!defined $a || $a eq '', "port $p answers no more");
}

# --- 8. apt-get purge: nothing of the package left but the admin's file.
($code, $text) = ct(timeout(120), 'apt-get', 'purge', '-y', 'clusterd');
is($code, 0, 'apt-get purge clusterd') or diag(tail_of($text));
my $left = installed();
ok(!$left->{clusterd}, 'clusterd is no longer installed');
ok(!-e "$ROOT$_", "$_ is gone") for qw(/usr/bin/clusterd /usr/bin/clusterctl
    /usr/libexec/clusterd /lib/systemd/system/clusterd@.service
    /usr/share/doc/clusterd);
($code) = ct(30, 'test', '-e', '/run/clusterd');
is($code, 1, '/run/clusterd (control sockets, in the container\'s /run) is gone');
opendir(my $dh, "$ROOT/etc/clusterd");
is_deeply([sort grep { !/^\.\.?$/ } readdir($dh)], ['clusterd.conf', 'web.conf'],
    '/etc/clusterd holds only the administrator\'s files');
my @links = grep { /clusterd/ } map { s{^\Q$ROOT\E}{}r }
    (glob("$ROOT/etc/systemd/system/*/*"), glob("$ROOT/var/lib/systemd/deb-systemd-helper-*/*"),
    glob("$ROOT/var/lib/systemd/deb-systemd-helper-*/*/*"));
is_deeply(\@links, [], 'no unit link or deb-systemd-helper state left');

done_testing();
