# The metrics endpoint (issue 16, clusterd.conf(5) metrics): GET /metrics
# over HTTP/1.x in the Prometheus text format or OpenMetrics, 404, 405,
# 400 and 431 for the rest; a unix: address; config errors and a busy
# port; no wake-ups while nobody scrapes; hostile scrapers (slowloris,
# 100 MB requests, 1,000 connections at once) while a real curl scrape
# answers promptly, a killed worker is replaced in the usual time, and
# clusterd's memory and descriptors stay bounded; a reload that moves the
# endpoint (or cannot); an upgrade during which scrapes keep answering.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use IO::Socket::IP;
use IO::Select;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $CURL = '/usr/bin/curl';
plan(skip_all => 'no curl') unless -x $CURL;

my $TEXT = 'text/plain; version=0.0.4; charset=utf-8';
my $OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
# What Prometheus 2.x sends.
my $PROM_ACCEPT = 'application/openmetrics-text;version=1.0.0,'
    . 'application/openmetrics-text;version=0.0.1;q=0.75,'
    . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

my @kids;	# hostile clients and scrapers this test forked
END { for (@kids) { kill(KILL => $_); waitpid($_, 0) } }

# curl ARGS...: (HTTP status, headers, body, seconds taken); status 0
# when curl failed.
sub curl {
	my (@args) = @_;
	my $n = int(rand(1e9));
	my ($hf, $bf) = ("$TMPDIR/h$n", "$TMPDIR/b$n");
	my $t0 = time();
	my $code = `$CURL -sS --max-time ${\ timeout(5)} -D $hf -o $bf -w '%{http_code}' @args 2>&1`;
	my $took = time() - $t0;
	my ($h, $b) = (slurp($hf) // '', slurp($bf) // '');
	unlink($hf, $bf);
	if ($code !~ /^\d{3}$/) {
		$h = $code;	# what curl said
		$code = 0;
	}
	return ($code + 0, $h, $b, $took);
}

sub header {
	my ($h, $name) = @_;
	my ($v) = $h =~ /^\Q$name\E:\s*([^\r\n]*)\r?$/mi;
	return $v;
}

# Raw bytes to HOST:PORT; the answer, read until the server closes.
sub raw {
	my ($port, $bytes) = @_;
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp', Timeout => 2) or return "connect: $!";
	syswrite($s, $bytes);
	my ($buf, $sel, $end) = ('', IO::Select->new($s), time() + timeout(5));
	while (time() < $end && $sel->can_read($end - time())) {
		my $r = sysread($s, $buf, 65536, length($buf));
		last unless $r;
	}
	return $buf;
}

sub status_of { my ($a) = @_; return $a =~ m{\AHTTP/1\.1 (\d{3}) } ? $1 : 0 }


sub conf {
	my ($file, %o) = @_;
	my $s = "[clusterd]\nworkers = 2\ncontrol = $o{ctl}\n";
	$s .= "metrics = $o{metrics}\n" if defined $o{metrics};
	$s .= "[socket:http]\nlisten = 127.0.0.1:$o{port}\n[program]\ncommand = $HELLO\n";
	return write_file($file, $s);
}

my $port = free_port();
my $mport = free_port();
my $ctl = "$TMPDIR/ctl.sock";
my $conf = conf("$TMPDIR/web.conf", ctl => $ctl, port => $port,
    metrics => "127.0.0.1:$mport");
my $c = start_clusterd(args => ['-c', $conf]);
my @w = wait_workers($c->pid, 2, 10, 'hello');
is(scalar(@w), 2, 'two workers') or BAIL_OUT('clusterd did not start');
ok($c->wait_log(qr/^clusterd: metrics on 127\.0\.0\.1:$mport$/m),
    'one log line says where: "metrics on 127.0.0.1:PORT"');
my $URL = "http://127.0.0.1:$mport/metrics";

# --- The formats ---
my ($code, $h, $b) = curl($URL);
is($code, 200, 'GET /metrics: 200');
is(header($h, 'Content-Type'), $TEXT, "Content-Type: $TEXT");
is(header($h, 'Connection'), 'close', 'Connection: close');
is(header($h, 'Content-Length'), length($b), 'Content-Length is the body\'s');
like($b, qr/^clusterd_build_info\{version="[^"]+",commit="[^"]*"\} 1$/m,
    'the body is what metrics.c renders (clusterd_build_info)');
like($b, qr/\n\z/, 'the text format ends with a newline');
unlike($b, qr/# EOF/, 'and without "# EOF"');

($code, $h, $b) = curl('-H', "'Accept: $PROM_ACCEPT'", $URL);
is($code, 200, 'GET with the Accept header Prometheus sends: 200');
is(header($h, 'Content-Type'), $OM, "Content-Type: $OM");
like($b, qr/^clusterd_build_info\{.*\} 1$/m, 'OpenMetrics body');
like($b, qr/\n# EOF\n\z/, 'OpenMetrics ends with "# EOF"');

($code, $h) = curl('-H', "'Accept: application/openmetrics-text;q=0, text/plain'", $URL);
is(header($h, 'Content-Type'), $TEXT, 'OpenMetrics with q=0: the text format');

($code, $h, $b) = curl("'$URL?name[]=x&y=1'");
is($code, 200, 'a query string is ignored: 200');
($code, $h, $b) = curl('--http1.0', $URL);
is($code, 200, 'HTTP/1.0: 200');
like($b, qr/clusterd_build_info/, 'HTTP/1.0: the body');
my $head = raw($mport, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
is(status_of($head), 200, 'HEAD /metrics: 200');
ok(header($head, 'Content-Length') > 0 && $head =~ /\r\n\r\n\z/,
    'HEAD: the length, no body') or diag($head);
($code) = curl('-I', $URL);
is($code, 200, 'curl -I: 200');

# --- The rest ---
for my $path ('/', '/metrics/', '/metricsx', '/other') {
	($code, $h) = curl("http://127.0.0.1:$mport$path");
	is($code, 404, "GET $path: 404");
}
for my $m (qw(POST PUT DELETE OPTIONS)) {
	($code, $h) = curl('-X', $m, $URL);
	is($code, 405, "$m /metrics: 405");
	is(header($h, 'Allow'), 'GET, HEAD', "$m: Allow: GET, HEAD");
	is(header($h, 'Connection'), 'close', "$m: Connection: close");
}
my %bad = (
	'a TLS hello' => "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	'no version' => "GET /metrics\r\n\r\n",
	'two spaces' => "GET  /metrics HTTP/1.1\r\n\r\n",
	'a target without /' => "GET metrics HTTP/1.1\r\n\r\n",
	'a header without a colon' => "GET /metrics HTTP/1.1\r\nHost\r\n\r\n",
	'a folded header' => "GET /metrics HTTP/1.1\r\nHost: x\r\n  y\r\n\r\n",
	'a control character' => "GET /metrics HTTP/1.1\r\nHost: x\x01\r\n\r\n",
	'binary' => join('', map { chr } 0 .. 255),
);
for my $what (sort keys %bad) {
	my $a = raw($mport, $bad{$what});
	is(status_of($a), 400, "$what: 400") or diag(substr($a, 0, 80));
}
is(status_of(raw($mport, "GET /metrics HTTP/2.0\r\n\r\n")), 505, 'HTTP/2.0: 505');
is(status_of(raw($mport, "GET http://127.0.0.1:$mport/metrics HTTP/1.1\r\n\r\n")), 200,
    'the absolute form (http://HOST/metrics): 200');
is(status_of(raw($mport, "GET http://127.0.0.1:$mport HTTP/1.1\r\n\r\n")), 404,
    'the absolute form without a path: 404');
is(status_of(raw($mport, "GET /metrics HTTP/1.1\nHost: x\n\n")), 200,
    'bare LF line ends: 200');
my $big = raw($mport, "GET /metrics HTTP/1.1\r\nX: " . ('a' x 9000) . "\r\n\r\n");
is(status_of($big), 431, 'headers past 8 KiB: 431');
like($big, qr/^Connection: close\r$/m, '431: Connection: close');
is(status_of(raw($mport, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
    . join('', map { "X-$_: " . ('b' x 60) . "\r\n" } 1 .. 100) . "\r\n")), 200,
    '100 headers within 8 KiB: 200');

my $mark = length($c->log_text);
curl($URL) for 1 .. 10;
is(substr($c->log_text, $mark), '', 'ten scrapes: no log line');

# --- No wake-ups while nobody scrapes ---
my $w0 = settle($c->pid);
ok(holds(sub { wakeups($c->pid) == $w0 }, 2),
    'metrics on, no scraper: clusterd does not wake up in 2 s')
    or diag('voluntary context switches: ' . $w0 . ' -> ' . wakeups($c->pid));

# --- Hostile scrapers ---
# Each load runs in child processes; meanwhile curl scrapes must answer
# promptly, and a worker killed with SIGKILL is replaced as usual.
sub fork_kid {
	my ($fn) = @_;
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		$SIG{TERM} = 'DEFAULT';
		# no die out of here: it would run the END blocks in the child
		eval { $fn->() };
		print STDERR "child: $@" if $@;
		POSIX::_exit(0);
	}
	push(@kids, $pid);
	return $pid;
}

sub stop_kids {
	for my $k (@_) { kill(KILL => $k); waitpid($k, 0) }
	my %gone = map { ($_ => 1) } @_;
	@kids = grep { !$gone{$_} } @kids;
}

sub conn {
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $mport,
	    Proto => 'tcp', Blocking => 0);
	return $s;
}

# Slowloris: $n connections, each sends a byte of a request now and then;
# one the server closed is opened again.
sub slowloris {
	my ($n) = @_;
	my (@s, @sent);
	while (1) {
		for my $i (0 .. $n - 1) {
			next if $s[$i] && defined(syswrite($s[$i],
			    $sent[$i]++ ? 'a' : "GET /metrics HTTP/1.1\r\nX-a: "));
			$s[$i] = conn();
			$sent[$i] = 0;
		}
		# What the server closed reads EOF: drop it.
		my $sel = IO::Select->new(grep { $_ } @s);
		for my $r ($sel->can_read(0)) {
			my $buf;
			my $got = sysread($r, $buf, 4096);
			@s = map { $_ && $_ == $r && !$got ? undef : $_ } @s if !$got;
		}
		sleep(0.2);
	}
}

# 100 MB of request: a header that never ends, and a POST with a 100 MB body,
# sent as fast as the server takes it, over new connections when it closes.
sub flood {
	my ($post) = @_;
	my $chunk = 'a' x 65536;
	my $left = 100 << 20;
	while ($left > 0) {
		my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $mport,
		    Proto => 'tcp') or (sleep(0.05), next);
		$SIG{PIPE} = 'IGNORE';
		syswrite($s, $post ? "POST /metrics HTTP/1.1\r\nContent-Length: "
		    . (100 << 20) . "\r\n\r\n" : "GET /metrics HTTP/1.1\r\nX-Big: ");
		while ($left > 0) {
			my $w = syswrite($s, $chunk);
			last unless $w;
			$left -= $w;
		}
	}
	sleep(60);	# done: wait to be stopped
}

# $n connections opened at once and held, opened again when closed.
sub many {
	my ($n) = @_;
	my @s;
	while (1) {
		@s = grep { $_ } map {
			my $s = $_;
			my $buf;
			$s && IO::Select->new($s)->can_read(0) && !sysread($s, $buf, 1) ? undef : $s;
		} @s;
		push(@s, conn()) while @s < $n;
		sleep(0.25);
	}
}

my $fd0 = fd_count($c->pid);
my $rss0 = proc_rss($c->pid);
my $PROMPT = timeout(1.5);

sub under_load {
	my ($what, @start) = @_;
	my @k = map { fork_kid($_) } @start;
	sleep(0.5);	# the load builds up
	my ($ok, $slowest, $fail) = (0, 0, '');
	for (1 .. 10) {
		my ($code, $h, $b, $took) = curl('-H', "'Accept: $PROM_ACCEPT'", $URL);
		if ($code == 200 && $b =~ /\n# EOF\n\z/) {
			$ok++;
		} else {
			$fail ||= "status $code: $h";
		}
		$slowest = $took if $took > $slowest;
		sleep(0.05);
	}
	is($ok, 10, "$what: 10 of 10 curl scrapes answered") or diag($fail);
	cmp_ok($slowest, '<', $PROMPT, "$what: the slowest in under ${PROMPT}s")
	    or diag("slowest: $slowest s");
	# Supervision: a worker killed now is replaced as usual.
	my @before = live_workers($c->pid, 'hello');
	my $victim = $before[0];
	my $at = length($c->log_text);
	my $t0 = time();
	kill(KILL => $victim);
	my $new;
	wait_for(sub {
		my @now = live_workers($c->pid, 'hello');
		($new) = grep { my $p = $_; !grep { $_ == $p } @before } @now;
		return @now == 2 && $new && !grep { $_ == $victim } @now;
	}, 5, 'a replacement worker');
	my $took = time() - $t0;
	ok($new && wait_for(sub { substr($c->log_text, $at) =~
	    /^clusterd: worker \d+ \(pid $new\) started$/m }, 2, "pid $new in the log"),
	    "$what: a worker killed with SIGKILL is replaced (its pid in the log)");
	cmp_ok($took, '<', timeout(2), "$what: replaced in under ${\ timeout(2)}s")
	    or diag("took $took s");
	cmp_ok(proc_rss($c->pid), '<', $rss0 + 16384, "$what: RSS within 16 MB of the start")
	    or diag("RSS $rss0 -> " . proc_rss($c->pid) . ' kB');
	stop_kids(@k);
	ok(wait_for(sub { fd_count($c->pid) == $fd0 }, 10, "fds back to $fd0"),
	    "$what: once it stops, clusterd's descriptors are back to $fd0")
	    or diag('fds: ' . fd_count($c->pid));
	is((curl($URL))[0], 200, "$what: after it, a scrape answers");
}

under_load('slowloris (2 x 40 connections, a byte now and then)',
    sub { slowloris(40) }, sub { slowloris(40) });
under_load('100 MB requests (an endless header, a 100 MB body)',
    sub { flood(0) }, sub { flood(1) });
under_load('1,000 connections at once (4 x 250, held)',
    map { sub { many(250) } } 1 .. 4);
ok(alive($c->pid), 'clusterd runs on');

# --- Reload: the endpoint moves, or the reload is refused ---
my $mport2 = free_port();
conf($conf, ctl => $ctl, port => $port, metrics => "127.0.0.1:$mport2");
my ($rc, $out, $err) = clusterctl($ctl, 'reload');
is($rc, 0, 'reload with another metrics address: exit 0') or diag($out, $err);
like($out, qr/metrics appl/, 'reload: "metrics applies now"');
ok($c->wait_log(qr/^clusterd: metrics on 127\.0\.0\.1:$mport2$/m), 'logged: metrics on the new one');
is((curl("http://127.0.0.1:$mport2/metrics"))[0], 200, 'the new address answers');
is((curl($URL))[0], 0, 'the old one is closed');

my $holder = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $mport,
    Listen => 1, ReuseAddr => 1) or die "cannot hold port $mport: $!";
conf($conf, ctl => $ctl, port => $port, metrics => "127.0.0.1:$mport");
($rc, $out, $err) = clusterctl($ctl, 'reload');
is($rc, 1, 'reload to a busy address: refused (exit 1)');
like($out . $err, qr/metrics 127\.0\.0\.1:$mport: Address already in use/,
    'it says the address and why') or diag($out, $err);
is((curl("http://127.0.0.1:$mport2/metrics"))[0], 200, 'refused: the old address still answers');
close($holder);

conf($conf, ctl => $ctl, port => $port);
($rc, $out) = clusterctl($ctl, 'reload');
is($rc, 0, 'reload without metrics: exit 0');
ok($c->wait_log(qr/^clusterd: metrics endpoint off$/m), 'logged: metrics endpoint off');
is((curl("http://127.0.0.1:$mport2/metrics"))[0], 0, 'nothing answers');

conf($conf, ctl => $ctl, port => $port, metrics => "127.0.0.1:$mport");
($rc, $out) = clusterctl($ctl, 'reload');
is($rc, 0, 'reload with metrics again: exit 0');
is((curl($URL))[0], 200, 'it answers again');

# --- Upgrade: scrapes go on answering throughout ---
my $inode = (keys %{ Clusterd::listen_sockets($mport) })[0];
my $log = "$TMPDIR/scrapes";
my $scraper = fork_kid(sub {
	open(my $fh, '>', $log) or POSIX::_exit(1);
	$fh->autoflush(1);
	while (1) {
		my $a = raw($mport, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
		print {$fh} status_of($a) == 200 && $a =~ /clusterd_build_info/ ? "ok\n"
		    : "fail " . substr($a =~ s/\s+/ /gr, 0, 60) . "\n";
		sleep(0.01);
	}
});
wait_for(sub { (slurp($log) // '') =~ /ok\n.*ok\n/s }, 5, 'scrapes before the upgrade');
my $umark = length($c->log_text);
($rc, $out, $err) = clusterctl($ctl, 'upgrade');
is($rc, 0, 'clusterctl upgrade: exit 0') or diag($out, $err);
my $n0 = () = (slurp($log) // '') =~ /\n/g;
wait_for(sub { (() = (slurp($log) // '') =~ /\n/g) >= $n0 + 10 }, 5, 'scrapes after it');
stop_kids($scraper);
my @lines = split(/\n/, slurp($log) // '');
my @failed = grep { !/^ok$/ } @lines;
ok(@lines >= 10 && !@failed, scalar(@lines) . ' scrapes before, during and after the upgrade: all answered')
    or diag(join("\n", @failed[0 .. ($#failed > 4 ? 4 : $#failed)]));
is((keys %{ Clusterd::listen_sockets($mport) })[0], $inode,
    'the same listening socket, carried over the exec');
unlike(substr($c->log_text, $umark), qr/metrics .*(?:in use|cannot|not carried)/,
    'no bind error after the upgrade');
kill(TERM => $c->pid);
is(wait_exit($c, 10), 0, 'SIGTERM: exit 0');

# --- A unix: address ---
my $sock = "$TMPDIR/metrics.sock";
my $uc = start_clusterd(args => ['-c', conf("$TMPDIR/u.conf", ctl => "$TMPDIR/u.ctl",
    port => free_port(), metrics => "unix:$sock")]);
ok($uc->wait_log(qr/^clusterd: metrics on unix:\Q$sock\E$/m), 'unix: metrics on unix:PATH')
    or diag($uc->log_text);
($code, $h, $b) = curl('--unix-socket', $sock, 'http://localhost/metrics');
is($code, 200, 'curl --unix-socket: 200');
like($b, qr/clusterd_build_info/, 'unix: the body');
($code) = curl('--unix-socket', $sock, 'http://localhost/');
is($code, 404, 'unix: 404 elsewhere');
kill(TERM => $uc->pid);
is(wait_exit($uc, 10), 0, 'unix: SIGTERM: exit 0');
ok(!-e $sock && !-e "$sock.lock", 'unix: the socket file and its lock are removed');

# --- Config errors, a busy port ---
for my $t (['nonsense', qr/bad address "nonsense" for metrics: bad port/],
    ['udp:127.0.0.1:9101', qr/bad address "udp:127\.0\.0\.1:9101" for metrics: .*not udp:/],
    ['127.0.0.1:99999', qr/bad address "127\.0\.0\.1:99999" for metrics: bad port/],
    ['unix:', qr/bad address "unix:" for metrics: empty UNIX socket path/]) {
	my ($v, $re) = @$t;
	my $f = write_file("$TMPDIR/bad.conf", "[clusterd]\nworkers = 1\n\nmetrics = $v\n"
	    . "[program]\ncommand = $HELLO\n");
	my ($code, $out, $err) = run_clusterd(args => ['--check', '-c', $f]);
	is($code, 2, "metrics = $v: exit 2");
	like($err, qr/^clusterd: \Q$f\E:4: $re/m, "metrics = $v: file:line: message")
	    or diag($err);
}
{
	my $f = conf("$TMPDIR/check.conf", ctl => "$TMPDIR/c.ctl", port => $port,
	    metrics => "127.0.0.1:$mport");
	my ($code, $out) = run_clusterd(args => ['--check', '-c', $f]);
	like($out, qr/^metrics = 127\.0\.0\.1:$mport$/m, '--check prints metrics');
}
my $busy = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => $mport,
    Listen => 1, ReuseAddr => 1) or die "cannot hold port $mport: $!";
my $bc;
($code, $out, $err, $bc) = run_clusterd(args => ['-c', conf("$TMPDIR/busy.conf",
    ctl => "$TMPDIR/b.ctl", port => free_port(), metrics => "127.0.0.1:$mport")]);
is($code, 2, 'a busy metrics port: exit 2');
like($err, qr/^clusterd: metrics 127\.0\.0\.1:$mport: Address already in use$/m,
    'it says which and why') or diag($err);
unlike($err, qr/worker \d+ .* started/, 'no worker was started');
close($busy);

# --- Out of descriptors: accept() pauses instead of spinning ---
my $PRLIMIT = '/usr/bin/prlimit';
SKIP: {
	skip('no prlimit (util-linux)', 7) unless -x $PRLIMIT;
	my $ectl = "$TMPDIR/e.ctl";
	my $eport = free_port();
	# prlimit execs clusterd in its own process: $e->pid is clusterd's.
	my $e = start_clusterd(binary => $PRLIMIT, args => ['--nofile=48:48', $CLUSTERD,
	    '-c', conf("$TMPDIR/e.conf", ctl => $ectl, port => free_port(),
	    metrics => "127.0.0.1:$eport")]);
	ok($e->wait_log(qr/^clusterd: 2 workers ready$/m), 'EMFILE: 2 workers ready');
	# Control connections until clusterd holds all 48 descriptors (how
	# many that takes depends on what else it holds: cgroups, the journal).
	my @held;
	my $full = sub { scalar(keys %{ proc_fds($e->pid) // {} }) >= 48 };
	for (1 .. 200) {
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ectl) or last;
		push(@held, $s);
		next if @held < 20;
		my $until = time() + 0.2;
		sleep(0.01) until $full->() || time() >= $until;
		last if $full->();
	}
	ok($full->(), 'EMFILE: clusterd holds all 48 descriptors (' . scalar(@held)
	    . ' control connections)');
	my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $eport,
	    Proto => 'tcp');
	syswrite($s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") if $s;
	ok($e->wait_log(qr/^clusterd: metrics: accept: Too many open files; not accepting connections until a descriptor is free$/m),
	    'EMFILE: the metrics endpoint stops accepting, and says so');
	my $cpu0 = proc_cpu($e->pid);
	my $t0 = time();
	wait_for(sub { time() - $t0 >= 2 }, 3, 'a 2 s window');
	my $cpu = proc_cpu($e->pid) - $cpu0;
	cmp_ok($cpu, '<=', timeout(0.1), "EMFILE: clusterd idle (${cpu}s CPU in 2 s)");
	is(scalar(() = $e->log_text =~ /metrics: accept: Too many/g), 1, 'EMFILE: logged once');
	@held = ();
	my $a = '';
	my $sel = IO::Select->new($s);
	my $end = time() + timeout(5);
	while ($s && time() < $end && $sel->can_read($end - time())) {
		last unless sysread($s, $a, 65536, length($a));
	}
	is(status_of($a), 200, 'EMFILE: once descriptors are free, the waiting scrape is answered');
	kill(TERM => $e->pid);
	is(wait_exit($e, 10), 0, 'EMFILE: SIGTERM: exit 0');
}

done_testing();
