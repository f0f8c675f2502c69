# Issue 16 §4: log_format = json. Every line clusterd writes is one JSON
# object (RFC 3339 UTC "time", "level", "event", "message", the worker's
# "worker_id", "worker_pid", "generation", the cluster's "name"); worker
# output relayed with log_prefix too ("event":"output", "stream"), its odd
# bytes escaped so the line stays valid JSON; a reload switches the format
# at once, both ways; --log-format on the command line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Clusterd;

my $RFC3339 = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

# The log as JSON objects; lines that are not JSON objects as strings.
sub objects {
	my ($text) = @_;
	return map { my $o = eval { decode_json($_) }; ref($o) eq 'HASH' ? $o : $_ }
	    split(/\n/, $text);
}

my $worker = write_file("$TMPDIR/app", <<'END');
#!/bin/sh
echo "hello from $CLUSTERD_WORKER_ID"
printf 'odd: \377\376 "q" \\ \001\033[0m\ttab caf\303\251 \355\240\200 end\n' >&2
exec sleep 1000
END
chmod(0755, $worker);
my $ctl = "$TMPDIR/ctl.sock";
my $conf = "$TMPDIR/web.conf";
sub config {
	my ($format) = @_;
	write_file($conf, <<"END");
[clusterd]
name = web
log_prefix = yes
log_format = $format
control = $ctl
[program]
command = $worker
END
}

# 1. Every line is a JSON object with the stable fields.
config('json');
my $c = start_clusterd(args => ['-n', 2, '-l', '127.0.0.1:0', '-c', $conf]);
ok(wait_log($c, qr/"message":"2 workers ready"/), 'started') or diag(log_text($c));
ok(wait_for(sub { my $n = () = log_text($c) =~ /"stream":"stderr"/g; $n >= 2 }, 5,
    'the odd lines') && wait_log($c, qr/"message":"hello from 0"/),
    'both workers wrote their lines');
my @o = objects(log_text($c));
is(scalar(grep { !ref } @o), 0, 'every line parses as a JSON object')
    or diag(explain([grep { !ref } @o]));
is(scalar(grep { ref && ($_->{time} // '') !~ $RFC3339 } @o), 0,
    'every "time" is RFC 3339 in UTC with microseconds');
is(scalar(grep { ref && ($_->{level} // '') !~ /^(?:error|warning|info|debug)$/ } @o), 0,
    'every "level" is error, warning, info or debug');
is(scalar(grep { ref && !defined $_->{message} } @o), 0, 'every line has a "message"');
my ($listen) = grep { ref && $_->{message} =~ /^listening on 127\.0\.0\.1:(\d+) \(listen0\)$/ } @o;
ok($listen, 'the message is the text line without "clusterd: "');
is($listen->{event}, 'listening', '"event":"listening"');
is($listen->{name}, 'web', '"name":"web"');
my @started = grep { ref && ($_->{event} // '') eq 'worker_started' } @o;
my %pid_of = map { ($_->{worker_id} => $_->{worker_pid}) } @started;
is_deeply([sort keys %pid_of], [0, 1], 'worker_started for workers 0 and 1');
is(scalar(grep { $_->{generation} != 1 } @started), 0, '"generation":1');
ok(!JSON::PP::is_bool($started[0]{worker_id}) && $started[0]{worker_id} =~ /^\d+$/,
    'worker_id is a number');
my ($ready) = grep { ref && ($_->{event} // '') eq 'ready' } @o;
is($ready->{message}, '2 workers ready', '"event":"ready"');

# Worker output as objects: the worker's fields, the stream, the bytes.
my ($h0) = grep { ref && $_->{message} eq 'hello from 0' } @o;
ok($h0, 'a worker\'s line is an object of its own');
is($h0->{event}, 'output', '"event":"output"');
is($h0->{stream}, 'stdout', '"stream":"stdout"');
is($h0->{worker_id}, 0, 'its worker_id');
is($h0->{worker_pid}, $pid_of{0}, 'its worker_pid');
is($h0->{generation}, 1, 'its generation');
my ($odd) = grep { ref && $_->{message} =~ /^odd:/ } @o;
is($odd->{stream}, 'stderr', '"stream":"stderr"');
is($odd->{message},
    "odd: \x{fffd}\x{fffd} \"q\" \\ \x01\x1b[0m\ttab caf\x{e9} \x{fffd}\x{fffd}\x{fffd} end",
    'quotes, backslash and control characters escaped, UTF-8 kept, bytes that are '
    . 'not UTF-8 (a surrogate too) U+FFFD');
my ($raw) = grep { /^odd|"message":"odd:/ } split(/\n/, log_text($c));
unlike($raw, qr/[\x00-\x1f\x7f]/, 'no raw control character on the line');

# A killed worker: its exit event carries its fields.
kill(KILL => $pid_of{1});
my $exit;
wait_for(sub { ($exit) = grep { ref && ($_->{event} // '') eq 'worker_exited' }
    objects(log_text($c)); $exit }, 5, 'the exit');
ok($exit, '"event":"worker_exited"') or diag(log_text($c));
is($exit->{worker_id}, 1, 'exit: worker_id');
is($exit->{worker_pid}, $pid_of{1}, 'exit: worker_pid');
is($exit->{generation}, 1, 'exit: generation');
is($exit->{level}, 'warning', 'exit and restart: "level":"warning"');
like($exit->{message}, qr/^worker 1 \(pid \d+\) killed by signal 9; restarting now$/,
    'exit: the message as ever');

# 2. A reload to text: the lines after it are text, worker output too.
# Lines of the restarted worker 1 may still come in before the reload:
# what counts is what follows the line that reports it.
sub after_reload {
	my ($re) = @_;
	my @l = split(/\n/, log_text($c));
	my ($i) = grep { $l[$_] =~ $re } reverse(0 .. $#l);
	return defined $i ? @l[$i .. $#l] : ();
}
config('text');
my ($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'reload to log_format = text: exit 0') or diag($out, $err);
my $p0 = $pid_of{0};
kill(KILL => $p0);
ok(wait_log($c, qr/^worker 0 \(pid \d+\): hello from 0$/m),
    'text: a new worker\'s line with its prefix') or diag(log_text($c));
ok(wait_log($c, qr/^clusterd: worker 0 \(pid $p0\) killed by signal 9; restarting now$/m),
    'text: clusterd\'s line');
my @lines = after_reload(qr/^\{.*"event":"reload","message":"reload: log_format applies now"/);
ok(scalar(@lines) > 2, 'the reload line itself is still JSON, and lines follow it')
    or diag(log_text($c));
shift(@lines);
is(scalar(grep { /^\{/ } @lines), 0, 'no JSON after it') or diag(log_text($c));

# 3. And back to json.
config('json');
($code, $out, $err) = clusterctl($ctl, 'reload');
is($code, 0, 'reload to log_format = json: exit 0') or diag($out, $err);
kill(TERM => $c->pid);
is(wait_exit($c, 10), 0, 'exit 0');
my @after = map { my $o = eval { decode_json($_) }; ref($o) eq 'HASH' ? $o : $_ }
    after_reload(qr/^clusterd: reload: log_format applies now$/);
ok(scalar(@after) > 2, 'the reload line itself is still text, and lines follow it')
    or diag(log_text($c));
shift(@after);
is(scalar(grep { !ref } @after), 0, 'json again: every line after it is JSON')
    or diag(log_text($c));
ok((grep { ref && $_->{message} eq 'stopped' && $_->{event} eq 'stopped' } @after),
    '"event":"stopped"');

# 4. --log-format on the command line, without a file; a bad value.
$c = start_clusterd(args => ['--log-format=json', '-n', 1, '-l', '127.0.0.1:0', '--', $HELLO]);
ok(wait_log($c, qr/"message":"1 worker ready"/), '--log-format=json') or diag(log_text($c));
kill(TERM => $c->pid);
is(wait_exit($c), 0, 'exit 0');
is(scalar(grep { !ref } objects(log_text($c))), 0, '--log-format=json: every line is JSON');
my ($c2, $o2, $e2) = run_clusterd(args => ['--log-format=xml', '--', $HELLO]);
is($c2, 2, '--log-format=xml: exit 2');
like($e2, qr/--log-format: expected text or json, got "xml"/, 'and says why');
($c2, $o2) = run_clusterd(args => ['--check', '-c', $conf]);
like($o2, qr/^log_format = json$/m, '--check prints log_format');

done_testing();
