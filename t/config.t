# Config file errors: every one as "clusterd: FILE:LINE: message", all of
# them listed, exit 2, nothing started.  Plus what a good file does:
# comments, quoted commands, continuation lines, [env], CLI overrides.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $n = 0;

# Run clusterd -c web.conf from $TMPDIR/cN: (exit code, stderr).
sub bad {
	my ($content, @args) = @_;
	my $dir = "$TMPDIR/c" . ++$n;
	mkdir($dir);
	write_file("$dir/web.conf", $content);
	my ($code, $out, $err) = run_clusterd(args => ['-c', 'web.conf', @args],
	    dir => $dir);
	return ($code, $err, $out);
}

sub check_bad {
	my ($what, $content, @re) = @_;
	my ($code, $err, $out) = bad($content);
	is($code, 2, "$what: exit 2");
	like($err, $_, "$what: $_") for @re;
	unlike($err, qr/started|listening/, "$what: nothing started");
	unlike($err, qr/clusterd: clusterd:/, "$what: one prefix");
	is($out, '', "$what: nothing on stdout");
	return $err;
}

check_bad('unknown section', <<'END',
[clusterd]
workers = 2
[sockets:http]
listen = 8080
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:3: unknown section \[sockets:http\] \(did you mean \[socket:NAME\]\?\)$/m);

check_bad('unknown key', <<'END',
[clusterd]
worker = 2
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:2: unknown key "worker" in \[clusterd\] \(did you mean "workers"\?\)$/m);

check_bad('unknown key in [program]', <<'END',
[program]
comand = sleep 1000
END
    qr/^clusterd: web\.conf:2: unknown key "comand" in \[program\] \(did you mean "command"\?\)$/m);

check_bad('unknown key in [socket:x]', <<'END',
[socket:x]
lisen = 127.0.0.1:0
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:2: unknown key "lisen" in \[socket:x\] \(did you mean "listen"\?\)$/m);

check_bad('bad duration', <<'END',
[clusterd]
stop_timeout = 10x
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:2: bad duration "10x" for stop_timeout\b/m);

check_bad('bad duration in [program]', <<'END',
[program]
command = sleep 1000
backoff_initial = fast
END
    qr/^clusterd: web\.conf:3: bad duration "fast" for backoff_initial\b/m);

check_bad('bad number', <<'END',
[clusterd]
workers = abc
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:2: bad number "abc" for workers\b/m);

check_bad('bad number give_up_after', <<'END',
[clusterd]
give_up_after = -1
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:2: bad number "-1" for give_up_after\b/m);

check_bad('bad restart value', <<'END',
[program]
command = sleep 1000
restart = sometimes
END
    qr/^clusterd: web\.conf:3: .*"sometimes"/m);

check_bad('bad signal', <<'END',
[program]
command = sleep 1000
stop_signal = SIGNOPE
END
    qr/^clusterd: web\.conf:3: .*"SIGNOPE"/m);

check_bad('bad listen address', <<'END',
[socket:http]
listen = 127.0.0.1:notaport
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:2: .*127\.0\.0\.1:notaport/m);

check_bad('bad socket name', <<'END',
[socket:a/b]
listen = 127.0.0.1:0
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:1: .*a\/b/m);

check_bad('duplicate key', <<'END',
[clusterd]
workers = 2
workers = 3
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:3: duplicate key "workers" \(first set on line 2\)$/m);

check_bad('missing command', <<'END',
[clusterd]
workers = 2
END
    qr/^clusterd: web\.conf: no command: set \[program\] command or give one after --$/m);

check_bad('unterminated quote', <<'END',
[program]
command = sh -c "exit 0
END
    qr/^clusterd: web\.conf:2: /m);

my $long = 'x' x 250;
check_bad('line too long', <<"END",
[clusterd]
workers = 2
; $long
[program]
command = sleep 1000
END
    qr/^clusterd: web\.conf:3: line too long \(max 199 characters\)$/m);

# Several errors in one file: every one listed, in order.
my $err = check_bad('several errors', <<'END',
[clusterd]
worker = 2
# a comment
stop_timeout = 10x

[sockets:http]
listen = 1
[program]
command = sleep 1000
backoff_max = 1y
END
    qr/^clusterd: web\.conf:2: unknown key "worker"/m,
    qr/^clusterd: web\.conf:4: bad duration "10x"/m,
    qr/^clusterd: web\.conf:6: unknown section \[sockets:http\]/m,
    qr/^clusterd: web\.conf:10: bad duration "1y" for backoff_max/m);
my @lines = $err =~ /^clusterd: web\.conf:(\d+):/mg;
is_deeply([grep { $_ != 7 } @lines], [2, 4, 6, 10], 'in file order');

# A missing file.
my ($code, $out, $e) = run_clusterd(args => ['-c', "$TMPDIR/nope.conf"]);
is($code, 2, 'missing config file: exit 2');
like($e, qr/^clusterd: .*nope\.conf.*No such file or directory/m,
    'missing config file: named, with the reason');

# A good file: comments, quotes, escapes, a continuation line, [env],
# sockets only from [socket:NAME], and -n overriding workers.
my $dir = "$TMPDIR/good";
mkdir($dir);
write_file("$dir/web.conf", <<'END');
# comment
; another comment
[clusterd]
workers = 5
stop_timeout = 2s

[socket:web]
listen = 127.0.0.1:0

[program]
command = perl -e "sleep 1000" -- 'single quoted' "double \"quoted\""
  a\ b {worker} {port:web}
[env]
GREETING = hi {worker}
END
my $c = start_clusterd(args => ['-c', 'web.conf', '-n', 2], dir => $dir);
my ($port) = $c->wait_log(qr/^clusterd: listening on 127\.0\.0\.1:(\d+) \(web\)$/m);
ok($port, 'the socket comes from [socket:web]');
my @w = wait_workers($c->pid, 2, 5, 'perl');
is(scalar(@w), 2, '-n 2 overrides workers = 5');
for my $pid (@w) {
	my $env = proc_env($pid);
	my $id = $env->{CLUSTERD_WORKER_ID};
	is_deeply([proc_cmdline($pid)], ['perl', '-e', 'sleep 1000', '--',
	    'single quoted', 'double "quoted"', 'a b', $id, $port // '?'],
	    "$pid: command split with quotes, escapes and a continuation line");
	is($env->{GREETING}, "hi $id", "$pid: [env] value with {worker}");
	is($env->{LISTEN_FDNAMES}, 'web', "$pid: LISTEN_FDNAMES=web");
}
kill TERM => $c->pid;
is(wait_exit($c), 0, 'exit 0');

done_testing();
