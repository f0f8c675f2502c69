# Privileges and limits (decisions5 "Privileges", CONTRACT §2): sockets are
# bound as root, workers run as the user with its groups (initgroups),
# directory, umask and rlimit_nofile; UNIX socket mode/owner/group; clear
# errors at start.  Checked in /proc/PID/status and /proc/PID/limits.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::IP;
use Clusterd;

plan(skip_all => 'dropping privileges needs root') if $> != 0;
my ($NOBODY, $NOGROUP) = ((getpwnam('nobody'))[2], scalar getgrnam('nogroup'));
plan(skip_all => 'no user nobody / group nogroup')
    unless defined $NOBODY && defined $NOGROUP;

# A free privileged port on 127.0.0.1.
sub low_port {
	for my $p (reverse 600 .. 1023) {
		my $s = IO::Socket::IP->new(LocalHost => '127.0.0.1',
		    LocalPort => $p, Proto => 'tcp', Listen => 1, ReuseAddr => 0);
		return $p if $s;
	}
	return undef;
}

sub status {
	my ($pid) = @_;
	my %f;
	for (split(/\n/, slurp("/proc/$pid/status") // '')) {
		$f{$1} = $2 if /^(\w+):\s*(.*?)\s*$/;
	}
	return \%f;
}

sub groups_of {	# the user's groups as initgroups gives them, sorted
	my ($user, $gid) = @_;
	my @g = ($gid);
	while (my @gr = getgrent()) {
		push(@g, $gr[2]) if grep { $_ eq $user } split(' ', $gr[3]);
	}
	endgrent();
	my %u = map { $_ => 1 } @g;
	return join(' ', sort { $a <=> $b } keys %u);
}

sub sorted { join(' ', sort { $a <=> $b } split(' ', $_[0] // '')) }

sub nofile {
	my ($pid) = @_;
	my ($soft, $hard) = (slurp("/proc/$pid/limits") // '')
	    =~ /^Max open files\s+(\d+)\s+(\d+)/m;
	return [$soft, $hard];
}

# A directory every user may enter (the test's own is 0700).
my $pub = tempdir('clusterd-t-pub-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod(0755, $pub);
# A hello nobody can run, for the build tree may be out of nobody's reach.
my ($PHELLO) = public_copies($HELLO);

# 1. -u nobody, a port below 1024.
my $port = low_port();
SKIP: {
	skip('no free port below 1024 on 127.0.0.1', 12) unless $port;
	my $c = start_clusterd(args => ['-n', 2, '-u', 'nobody',
	    '-l', "127.0.0.1:$port", '--', $PHELLO]);
	ok($c->wait_log(qr/^clusterd: listening on 127\.0\.0\.1:$port \(listen0\)$/m),
	    "bound port $port (as root)");
	my @w = wait_workers($c->pid, 2, 5, 'hello');
	is(scalar(@w), 2, 'two workers');
	my $groups = groups_of('nobody', $NOGROUP);
	for my $pid (@w) {
		my $st = status($pid);
		is($st->{Uid}, join("\t", ($NOBODY) x 4),
		    "$pid: Uid real, effective, saved, fs = nobody");
		is($st->{Gid}, join("\t", ($NOGROUP) x 4),
		    "$pid: Gid all nogroup");
		is(sorted($st->{Groups}), $groups,
		    "$pid: Groups are nobody's ($groups), not root's");
	}
	is(status($c->pid)->{Uid}, join("\t", (0) x 4), 'clusterd stays root');
	is_deeply(hello_ids($port, 2), [0, 1],
	    'both workers (nobody) answer on the privileged port');

	# The parent-death signal survives the drop (it is set after it).
	kill KILL => $c->pid;
	wait_exit($c);
	ok(wait_for(sub { !grep { alive($_) } @w }, 5, 'the workers to die'),
	    'clusterd SIGKILLed: the nobody workers get their TERM and go');
}

# 2. The config file: user, group, directory, umask, rlimit_nofile,
# ready = notify (the worker's NOTIFY_SOCKET is its own), and a UNIX socket
# with mode/owner/group.
my $admin = "$pub/admin.sock";
my $conf = write_file("$TMPDIR/priv.conf", <<"END");
[clusterd]
workers = 2
[socket:http]
listen = 127.0.0.1:0
[socket:admin]
listen = unix:$admin
mode = 0660
owner = nobody
group = nogroup
[program]
command = $PHELLO
user = nobody
group = nogroup
directory = $pub
umask = 027
rlimit_nofile = 777
ready = notify
ready_timeout = 5s
[env]
HELLO_NOTIFY = 1
END
my $c = start_clusterd(args => ['-c', $conf]);
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m),
    'ready = notify: workers running as nobody reach their NOTIFY_SOCKET');
my @w = wait_workers($c->pid, 2, 5, 'hello');
is(scalar(@w), 2, 'two workers');
for my $pid (@w) {
	my $st = status($pid);
	is($st->{Uid}, join("\t", ($NOBODY) x 4), "$pid: Uid nobody");
	is($st->{Gid}, join("\t", ($NOGROUP) x 4), "$pid: Gid nogroup");
	is($st->{Umask}, '0027', "$pid: Umask 0027");
	is_deeply(nofile($pid), [777, 777], "$pid: Max open files 777 777");
	is(readlink("/proc/$pid/cwd"), $pub, "$pid: directory");
	my $ns = (proc_env($pid) // {})->{NOTIFY_SOCKET} // '';
	my @nst = $ns =~ m{^/} ? stat($ns) : ();
	is($nst[4] // 'none', $NOBODY,
	    "$pid: its NOTIFY_SOCKET file ($ns) is owned by nobody");
}
my @ast = stat($admin);
is(sprintf('%04o', ($ast[2] // 0) & 07777), '0660', 'unix socket mode 0660');
is_deeply([@ast[4, 5]], [$NOBODY, $NOGROUP],
    'unix socket owner nobody, group nogroup');
like(http_get_unix($admin) // '', qr/^hello world from worker \d \(pid \d+\)\n\z/,
    'the unix socket answers');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# A reload that changes the user: a rolling restart onto the new user.
my $ctl = "$TMPDIR/ctl.sock";
my $rconf = "$TMPDIR/reload.conf";
my $rtext = "[clusterd]\nworkers = 2\n[socket:http]\nlisten = 127.0.0.1:0\n"
    . "[program]\ncommand = $PHELLO\nuser = nobody\n";
write_file($rconf, $rtext);
$c = start_clusterd(args => ['-c', $rconf, '-s', $ctl]);
@w = wait_generation($c->pid, 2, 1, 5, 'hello');
is(status($w[0] // 0)->{Uid}, join("\t", ($NOBODY) x 4), 'generation 1 runs as nobody');
my $DAEMON = getpwnam('daemon');
$rtext =~ s/user = nobody/user = daemon/;
write_file($rconf, $rtext);
my ($rcode, $rout) = clusterctl($ctl, 'reload');
is($rcode, 0, 'reload with user = daemon: exit 0') or diag($rout);
@w = wait_generation($c->pid, 2, 2, 10, 'hello');
is(scalar(@w), 2, 'generation 2');
for my $pid (@w) {
	is(status($pid)->{Uid}, join("\t", ($DAEMON) x 4), "$pid: Uid daemon");
	my $ns = (proc_env($pid) // {})->{NOTIFY_SOCKET} // '';
	is((stat($ns))[4] // 'none', $DAEMON, "$pid: its NOTIFY_SOCKET is daemon's");
}
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 3. -u USER:GROUP: that group, and the supplementary groups initgroups
# gives the user with it as the base.
$c = start_clusterd(args => ['-n', 1, '-u', 'nobody:daemon', '-l',
    '127.0.0.1:0', '--', $PHELLO]);
@w = wait_workers($c->pid, 1, 5, 'hello');
my $dgid = getgrnam('daemon');
my $st = status($w[0] // 0);
is($st->{Uid}, join("\t", ($NOBODY) x 4), '-u nobody:daemon: Uid nobody');
is($st->{Gid}, join("\t", ($dgid) x 4), '-u nobody:daemon: Gid daemon');
is(sorted($st->{Groups}), groups_of('nobody', $dgid),
    '-u nobody:daemon: Groups as initgroups("nobody", daemon)');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 4. A user with supplementary groups gets them all.
my ($member) = grep { defined getpwnam($_) && $_ ne 'root' }
    map { split(' ', (getgrnam($_))[3] // '') } map { (getgrgid($_))[0] // () }
    map { (split(/:/))[2] } grep { /^[^:]+:[^:]*:\d+:\S/ }
    split(/\n/, slurp('/etc/group') // '');
SKIP: {
	skip('no user with supplementary groups in /etc/group', 2) unless $member;
	my ($uid, $gid) = (getpwnam($member))[2, 3];
	$c = start_clusterd(args => ['-n', 1, '-u', $member, '-l', '127.0.0.1:0',
	    '--', $PHELLO]);
	@w = wait_workers($c->pid, 1, 5, 'hello');
	$st = status($w[0] // 0);
	is(sorted($st->{Groups}), groups_of($member, $gid),
	    "-u $member: Groups are all of $member\'s");
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

# 5. Without rlimit_nofile, workers get the soft limit clusterd was started
# with; clusterd raises its own to the hard one.
SKIP: {
	skip('/usr/bin/prlimit is needed', 3) unless -x '/usr/bin/prlimit';
	$c = start_clusterd(binary => '/usr/bin/prlimit',
	    args => ['--nofile=1000:4096', $CLUSTERD, '-n', 1, '-l',
		'127.0.0.1:0', '--', $PHELLO]);
	@w = wait_workers($c->pid, 1, 5, 'hello');
	is_deeply(nofile($w[0] // 0), [1000, 4096],
	    'the worker: soft 1000 (clusterd\'s at start), hard 4096');
	is_deeply(nofile($c->pid), [4096, 4096], 'clusterd itself: soft raised to 4096');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

# 6. Errors at start, exit 2, nothing started.
my ($code, $out, $err) = run_clusterd(args => ['-n', 1, '-u', 'nosuch',
    '-l', '127.0.0.1:0', '--', $PHELLO]);
is($code, 2, '-u nosuch: exit 2');
like($err, qr/^clusterd: unknown user "nosuch"$/m,
    'clusterd: unknown user "nosuch"');
unlike($err, qr/worker \d+ \(pid/, 'no worker started');

($code, $out, $err) = run_clusterd(args => ['-n', 1, '-u', 'nobody:nosuchgroup',
    '-l', '127.0.0.1:0', '--', $PHELLO]);
is($code, 2, '-u nobody:nosuchgroup: exit 2');
like($err, qr/^clusterd: unknown group "nosuchgroup"$/m,
    'clusterd: unknown group "nosuchgroup"');

($code, $out, $err) = run_clusterd(args => ['-n', 1, '-d', '/nonexistent',
    '-l', '127.0.0.1:0', '--', $PHELLO]);
is($code, 2, '-d /nonexistent: exit 2');
like($err, qr{^clusterd: directory /nonexistent: No such file or directory$}m,
    'clusterd: directory /nonexistent: No such file or directory');
unlike($err, qr/worker \d+ \(pid/, 'no worker started');

for my $case (['user = nosuch', qr/^clusterd: (?:\S+:\d+: )?unknown user "nosuch"$/m],
    ['directory = /etc/passwd',
	qr{^clusterd: (?:\S+:\d+: )?directory /etc/passwd: Not a directory$}m]) {
	my ($line, $re) = @$case;
	my $bad = write_file("$TMPDIR/bad.conf", "[program]\ncommand = $PHELLO\n$line\n");
	($code, $out, $err) = run_clusterd(args => ['-n', 1, '-c', $bad,
	    '-l', '127.0.0.1:0']);
	is($code, 2, "config $line: exit 2");
	like($err, $re, "config $line: the error says so");
}

# A directory the user may not enter: the worker cannot start there.
my $closed = "$TMPDIR/closed";
mkdir($closed, 0700);
($code, $out, $err) = run_clusterd(args => ['-n', 1, '-u', 'nobody',
    '-d', $closed, '-l', '127.0.0.1:0', '--', $PHELLO]);
isnt($code, 0, 'a directory nobody may not enter: clusterd does not run on');
like($err, qr/\Q$closed\E: Permission denied/,
    'the error names the directory and EACCES');

done_testing();
