# Runtime files removed while clusterd runs (tmp cleaners, a cleaned
# /dev/shm): the control socket, its lock and the notify directory come
# back. clusterctl answers again, the live workers' watchdog pings and
# STATUS= keep arriving at the same NOTIFY_SOCKET, and a worker started
# after the removal becomes ready by notify.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use Time::HiRes qw(time);

# A worker as sd_notify(3) users write them: READY=1, then WATCHDOG=1 and
# a STATUS= count every WATCHDOG_USEC/4; a send that fails is ignored, as
# libsystemd ignores it.
my $worker = write_file("$TMPDIR/pinger.pl", <<'END');
use strict; use warnings;
use IO::Socket::UNIX; use Socket qw(SOCK_DGRAM); use Time::HiRes qw(sleep);
$SIG{TERM} = sub { exit 0 };
my $path = $ENV{NOTIFY_SOCKET} or die "pinger: no NOTIFY_SOCKET\n";
my $every = $ENV{WATCHDOG_USEC} / 4e6;
sub tell_ {
	my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Peer => $path) or return;
	$s->send($_[0]);
}
tell_("READY=1");
for (my $n = 1; ; $n++) {
	tell_("WATCHDOG=1\nSTATUS=ping $n");
	sleep($every);
}
END

my $wd = timeout(2);
my $ctl = "$TMPDIR/ctl.sock";
my $conf = write_file("$TMPDIR/runfiles.conf", <<"END");
[clusterd]
workers = 2
control = $ctl
stop_timeout = 2s
[program]
command = $^X $worker
ready = notify
ready_timeout = ${\ timeout(10)}s
watchdog = ${wd}s
END
my $c = start_clusterd(args => ['-l', '127.0.0.1:0', '-c', $conf]);
ok($c->wait_log(qr/^clusterd: 2 workers ready$/m), '2 workers ready by notify');
ok(-S $ctl && -f "$ctl.lock", 'the control socket and its lock file');

sub workers { my $st = ctl_status($ctl) or return (); return @{ $st->{workers} } }
sub pings {
	my %n;
	for my $w (workers()) {
		$n{$w->{pid}} = $1 if defined $w->{pid} && ($w->{status} // '') =~ /^ping (\d+)$/;
	}
	return \%n;
}

my @w = live_workers($c->pid, 'perl');
is(scalar(@w), 2, 'two workers');
my $sock = (proc_env($w[0]) // {})->{NOTIFY_SOCKET} // '';
my ($dir) = $sock =~ m{^(/.+)/\d+$};
ok($dir && -d $dir, "the notify directory: $dir");

# The whole notify directory and the control socket with its lock go.
my $before = pings();
remove_tree($dir);
unlink($ctl, "$ctl.lock");
ok(!-e $dir && !-e $ctl, 'removed the notify directory and the control socket');

ok(wait_for(sub { -S $ctl && -f "$ctl.lock" }, 5, 'the control socket back'),
    'the control socket and its lock are made again');
my ($code, $out) = clusterctl($ctl, 'status');
is($code, 0, 'clusterctl status answers: exit 0') or diag($out);
ok(wait_for(sub { -S "$dir/" . ($sock =~ m{/(\d+)$})[0] }, 5, 'the notify socket back'),
    'the notify directory and the workers\' sockets are made again');
is(sprintf('%o', ((stat($dir))[2] // 0) & 07777), '700', 'the directory is 0700 again');
ok(-f "$dir/.lock", 'with its lock file');
ok($c->wait_log(qr/^clusterd: notify directory \Q$dir\E was removed; made it again$/m),
    'log: notify directory ... was removed; made it again');
ok($c->wait_log(qr/^clusterd: control socket \Q$ctl\E was removed; listening on it again$/m),
    'log: control socket ... was removed; listening on it again');

# Pings reach clusterd again through the same NOTIFY_SOCKET: STATUS=
# counts on (10 more pings are 2.5 watchdog intervals), and the watchdog
# killed nobody meanwhile (the sockets were missing for about 0.2 s).
my $after;
ok(wait_for(sub {
	$after = pings();
	return 2 == grep { ($after->{$_} // 0) >= ($before->{$_} // 0) + 10 } @w;
}, 15, 'STATUS= counting on'), 'both workers\' STATUS= counts on (pings arrive)');
ok(!$c->log_matches(qr/watchdog timeout/), 'no watchdog timeout');
is(join(' ', sort { $a <=> $b } live_workers($c->pid, 'perl')), join(' ', @w),
    'the same two workers run');

# A worker started after the removal gets a working notify socket.
kill KILL => $w[0];
my $new;
ok(wait_for(sub {
	my @r = grep { $_->{state} eq 'ready' && $_->{pid} && $_->{pid} != $w[0] } workers();
	($new) = grep { $_ != $w[1] } map { $_->{pid} } @r;
	return @r == 2;
}, 10, 'a ready replacement'), 'the replacement of a killed worker becomes ready by notify');
like((proc_env($new // 0) // {})->{NOTIFY_SOCKET} // '', qr{^\Q$dir\E/\d+$},
    'its NOTIFY_SOCKET is in the same directory');

# Removed again, and a worker started at once, before clusterd has heard
# of the removal from inotify: that start makes the directory itself.
remove_tree($dir);
kill KILL => $w[1];
ok(wait_for(sub {
	my @r = grep { $_->{state} eq 'ready' && $_->{pid} && $_->{pid} != $w[1] } workers();
	return @r == 2 && !grep { $_->{pid} == $w[1] } @r;
}, 10, 'two ready workers'), 'removed again with a worker starting: both ready by notify');
ok(wait_for(sub { my $n = pings(); 2 == grep { defined $n->{$_} } keys %$n }, 5,
    'pings'), 'and both STATUS= counts arrive');
ok(!$c->log_matches(qr/watchdog timeout|not ready within|notify socket: /),
    'no watchdog timeout, ready timeout or notify socket error in the log');

kill TERM => $c->pid;
is(wait_exit($c, 10), 0, 'exit 0');
ok(!-e $ctl && !-e "$ctl.lock", 'the control socket and its lock are removed at exit');
ok(!-e $dir, 'the notify directory is removed at exit');

# The default control directory ($XDG_RUNTIME_DIR/clusterd for a user;
# as root it would be the host's /run/clusterd, so root runs clusterd as
# nobody): removed with rm -rf, it is made again 0700 with the socket.
# nobody runs copies, for the checkout may be where nobody cannot enter.
SKIP: {
	skip('no setpriv', 6) if $> == 0 && !-x '/usr/bin/setpriv';
	my ($CLUSTERD, $HELLO) = public_copies($CLUSTERD, $HELLO);
	local $CLUSTERCTL = (public_copies($CLUSTERCTL))[0];
	my %n = nobody_runtime();
	my @as = @{ $n{as} };
	my %env = %{ $n{env} };
	my ($uid, $xdg) = @n{qw(uid xdg)};
	$c = start_clusterd(binary => $as[0] // $CLUSTERD,
	    args => [@as ? (@as[1 .. $#as], $CLUSTERD) : (), '-n', 1, '-l',
	    '127.0.0.1:0', '--', $HELLO], env => \%env);
	my $def = "$xdg/clusterd/clusterd.sock";
	ok(wait_for(sub { -S $def }, 5), "default path: $def") or diag(log_text($c));
	remove_tree("$xdg/clusterd");
	ok(wait_for(sub { -S $def && -f "$def.lock" }, 5, 'the default socket back'),
	    'rm -rf of the default directory: socket and lock are back');
	my @st = stat("$xdg/clusterd");
	is(sprintf('%o', ($st[2] // 0) & 07777), '700', 'the directory is made 0700');
	is($st[4], $uid, 'owned by the user');
	($code, $out) = run_clusterctl(prefix => \@as, env => \%env, args => ['status']);
	is($code, 0, 'clusterctl status without -s answers') or diag($out);
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

done_testing();
