# Other fd protocols (decisions5 "compat"): compat = einhorn gives
# EINHORN_FD_COUNT and EINHORN_FD_<i>; compat = server_starter gives
# SERVER_STARTER_PORT="ADDR=FD;..." (a wildcard TCP socket by its port
# alone, HOST:PORT otherwise, a UNIX socket by its path), read here by
# Server::Starter's own server_ports() (Debian libserver-starter-perl).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $v6 = have_ipv6();
my ($p1, $p2, $p3, $p4) = map { free_port() } 1 .. 4;
my $usock = "$TMPDIR/compat.sock";
my $abs = "clusterd-test-$$-compat";

sub conf {
	my ($compat, $extra) = @_;
	my $v6sock = $v6 ? "[socket:v6]\nlisten = [::1]:$p4\n" : '';
	return write_file("$TMPDIR/compat-$compat.conf", <<"END");
[clusterd]
workers = 2
${\ ($compat eq 'off' ? '' : "compat = $compat") }
[socket:http]
listen = 127.0.0.1:$p1
[socket:any]
listen = :$p2
[socket:any4]
listen = 0.0.0.0:$p3
$v6sock
[socket:local]
listen = unix:$usock
[socket:abstract]
listen = unix:\@$abs
END
}

my $tcp = $v6 ? 4 : 3;		# TCP sockets, then the two UNIX ones
my $n = $tcp + 2;
my @ss = ("127.0.0.1:$p1=3", "$p2=4", "$p3=5", ($v6 ? "[::1]:$p4=6" : ()),
    "$usock=" . ($tcp + 3), "\@$abs=" . ($tcp + 4));
my $want_ss = join(';', @ss);

# 1. Both protocols; clusterd's own environment has stale values of them.
my $c = start_clusterd(args => ['-c', conf('einhorn, server_starter'), '--',
    'sleep', '1000'],
    env => { SERVER_STARTER_PORT => '80=9', EINHORN_FD_COUNT => 9,
	EINHORN_FD_8 => 11 });
my @w = wait_workers($c->pid, 2, 5, 'sleep');
is(scalar(@w), 2, 'two workers');
for my $pid (@w) {
	my $env = proc_env($pid) // {};
	is($env->{EINHORN_FD_COUNT}, $n, "$pid: EINHORN_FD_COUNT=$n");
	is_deeply([map { $env->{"EINHORN_FD_$_"} } 0 .. $n - 1], [3 .. $n + 2],
	    "$pid: EINHORN_FD_0=3 ... EINHORN_FD_" . ($n - 1) . '=' . ($n + 2));
	ok(!exists $env->{"EINHORN_FD_$n"} && !exists $env->{EINHORN_FD_8},
	    "$pid: no EINHORN_FD_ beyond them (clusterd's own stale one dropped)");
	is($env->{SERVER_STARTER_PORT}, $want_ss,
	    "$pid: SERVER_STARTER_PORT=$want_ss");
	is($env->{LISTEN_FDS}, $n, "$pid: LISTEN_FDS too");
}
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 2. One protocol only; none.
$c = start_clusterd(args => ['-c', conf('einhorn'), '--', 'sleep', '1000']);
@w = wait_workers($c->pid, 2, 5, 'sleep');
my $env = proc_env($w[0] // 0) // {};
is($env->{EINHORN_FD_COUNT}, $n, 'compat = einhorn: EINHORN_FD_COUNT');
ok(!exists $env->{SERVER_STARTER_PORT}, 'compat = einhorn: no SERVER_STARTER_PORT');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

$c = start_clusterd(args => ['-c', conf('server_starter'), '--', 'sleep', '1000']);
@w = wait_workers($c->pid, 2, 5, 'sleep');
$env = proc_env($w[0] // 0) // {};
is($env->{SERVER_STARTER_PORT}, $want_ss, 'compat = server_starter: SERVER_STARTER_PORT');
ok(!grep({ /^EINHORN_/ } keys %$env), 'compat = server_starter: no EINHORN_*');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

$c = start_clusterd(args => ['-c', conf('off'), '--', 'sleep', '1000']);
@w = wait_workers($c->pid, 2, 5, 'sleep');
$env = proc_env($w[0] // 0) // {};
ok(!grep({ /^(EINHORN_|SERVER_STARTER_)/ } keys %$env), 'no compat: neither');
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

# 3. A bad protocol name: a config error with file:line, exit 2.
my $bad = write_file("$TMPDIR/bad.conf",
    "[clusterd]\ncompat = einhorn, foo\n[program]\ncommand = sleep 1\n");
my ($code, $out, $err) = run_clusterd(args => ['-c', $bad]);
is($code, 2, 'compat = einhorn, foo: exit 2');
like($err, qr/^clusterd: \Q$bad\E:2: unknown compat protocol "foo"/m,
    'FILE:2: unknown compat protocol "foo"');

# 4. A Server::Starter app: server_ports() finds its socket by address.
SKIP: {
	skip('Server::Starter is needed (Debian package libserver-starter-perl)', 5)
	    unless system($^X, '-MServer::Starter', '-e', '1') == 0;
	my $app = write_file("$TMPDIR/starter-app.pl", <<'END');
use strict;
use IO::Handle;
use Server::Starter qw(server_ports);
my $ports = server_ports();	# {"127.0.0.1:8080" => 3, "8081" => 4, ...}
my %l;
for my $addr (@ARGV) {
	my $fd = $ports->{$addr} // die "no $addr in SERVER_STARTER_PORT\n";
	open(my $fh, '+<&=', $fd) or die "fd $fd: $!";
	$l{$addr} = $fh;
}
for (;;) {
	my $rin = '';
	vec($rin, fileno($_), 1) = 1 for values %l;
	select(my $rout = $rin, undef, undef, undef) > 0 or next;
	for my $addr (keys %l) {
		next unless vec($rout, fileno($l{$addr}), 1);
		accept(my $conn, $l{$addr}) or next;
		$conn->autoflush(1);
		my $req = '';
		sysread($conn, $req, 4096, length $req) while $req !~ /\r\n\r\n/;
		my $body = "starter $addr fd $ports->{$addr} pid $$\n";
		print $conn "HTTP/1.0 200 OK\r\nContent-Length: " . length($body)
		    . "\r\n\r\n$body";
		close($conn);
	}
}
END
	$c = start_clusterd(args => ['-c', conf('server_starter'), '--', $^X,
	    $app, "127.0.0.1:$p1", $p2, $usock]);
	@w = wait_workers($c->pid, 2, 5, 'perl');
	is(scalar(@w), 2, 'two Server::Starter workers');
	my %pids;
	for my $case (["127.0.0.1:$p1", sub { http_get('127.0.0.1', $p1) }, 3],
	    ["$p2", sub { http_get('127.0.0.1', $p2) }, 4],
	    [$usock, sub { http_get_unix($usock) }, $tcp + 3]) {
		my ($addr, $get, $fd) = @$case;
		my $b;
		wait_for(sub { $b = $get->() }, 5, "an answer on $addr");
		like($b // '', qr/^starter \Q$addr\E fd $fd pid (\d+)\n\z/,
		    "server_ports(): $addr is fd $fd, and it answers");
		$pids{$1} = 1 if ($b // '') =~ /pid (\d+)/;
	}
	ok(!$c->log_matches(qr/no .* in SERVER_STARTER_PORT|died/),
	    'no worker failed');
	kill TERM => $c->pid;
	is(wait_exit($c), 0, 'exit 0');
}

done_testing();
