# --check prints the effective settings as a valid INI file and exits 0,
# or 2 on a bad file; its output reads back to the same settings.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $conf = write_file("$TMPDIR/web.conf", <<'END');
[clusterd]
workers = 3
stop_timeout = 5s
[socket:http]
listen = 127.0.0.1:8080
[program]
command = ./server --fd {fd:http} "two words"
restart = on-failure
backoff_initial = 250ms
[env]
NODE_ENV = production
END

my ($code, $out, $err) = run_clusterd(args => ['--check', '-c', $conf,
    '-t', '3s']);
is($code, 0, '--check: exit 0');
like($out, qr/^\[clusterd\]$/m, '[clusterd] section');
like($out, qr/^workers\s*=\s*3$/m, 'workers = 3');
like($out, qr/^stop_timeout\s*=\s*3s$/m, '-t overrides stop_timeout');
like($out, qr/^\[socket:http\]$/m, '[socket:http] section');
like($out, qr/^listen\s*=\s*127\.0\.0\.1:8080$/m, 'listen');
like($out, qr/^\[program\]$/m, '[program] section');
like($out, qr/^command\s*=\s*.*server.*\{fd:http\}.*two words/m, 'command');
like($out, qr/^restart\s*=\s*on-failure$/m, 'restart');
like($out, qr/^backoff_initial\s*=\s*250ms$/m, 'backoff_initial');
like($out, qr/^NODE_ENV\s*=\s*production$/m, '[env]');
is($err, '', 'nothing on stderr');
unlike($out . $err, qr/started|listening on/, 'nothing bound or started');

# The output is a config file that gives the same settings.
my $again = write_file("$TMPDIR/again.conf", $out);
my ($code2, $out2, $err2) = run_clusterd(args => ['--check', '-c', $again]);
is($code2, 0, 'the printed settings pass --check');
is($out2, $out, 'and read back the same');
is($err2, '', 'without a warning');

# Command line only.
($code, $out, $err) = run_clusterd(args => ['--check', '-n', 2, '-l',
    'web=127.0.0.1:9', '-e', 'A=b', '--', 'sleep', '1000']);
is($code, 0, 'command-line --check: exit 0');
like($out, qr/^workers\s*=\s*2$/m, 'workers = 2');
like($out, qr/^\[socket:web\]\nlisten\s*=\s*127\.0\.0\.1:9$/m, 'socket web');
like($out, qr/^command\s*=\s*sleep 1000$/m, 'command');
like($out, qr/^A\s*=\s*b$/m, '-e in [env]');

# Words from the command line that INI or split_command would read
# differently come out quoted so the file gives them back, byte for byte,
# to the worker.
my @words = ('a ;b', '#c', 'x;', "v\x0bw", "it's", "tab\there", 'back\\slash',
    'dq"', "cr\r");
($code, $out, $err) = run_clusterd(args => ['--check', '-n', 1, '-l',
    '127.0.0.1:0', '--', $^X, '-e', '$| = 1; print join("|", @ARGV), "|end\n"; '
    . 'sleep 1000', @words]);
is($code, 0, 'awkward words: --check exits 0') or diag($err);
like($out, qr/^command = .* "a \\;b" '#c' "x\\;" /m, 'a ";" is escaped in double quotes, "#" quoted');
my $awk = write_file("$TMPDIR/awkward.conf", $out);
($code2, $out2) = run_clusterd(args => ['--check', '-c', $awk]);
is($out2, $out, 'awkward words: the printed file reads back the same');
my $cw = start_clusterd(args => ['-c', $awk]);
my $want = join('|', @words) . '|end';
ok($cw->wait_log(qr/^\Q$want\E$/m, 10), 'and the worker gets every word unchanged')
    or diag($cw->log_text);
kill TERM => $cw->pid;
is(wait_exit($cw), 0, 'exit 0');

# A continuation line keeps " ; b" as words (inih r55 strips comments only
# on a key's own line); --check writes them so they read back the same.
my $cont = write_file("$TMPDIR/cont.conf", "[program]\ncommand = ./x\n   a ; b\n");
($code, $out) = run_clusterd(args => ['--check', '-c', $cont]);
like($out, qr/^command = \.\/x a "\\;" b$/m, 'a ";" word from a continuation line is escaped');
my $cont2 = write_file("$TMPDIR/cont2.conf", $out);
($code2, $out2) = run_clusterd(args => ['--check', '-c', $cont2]);
is($out2, $out, 'and reads back the same');

# A value no config file can hold is said so, not printed wrong.
($code, $out) = run_clusterd(args => ['--check', '-e', 'A=x ;y', '-e', 'B= lead',
    '-e', 'C=fine;too', '--', 'sleep', '1']);
like($out, qr/^; A: a value a config file cannot hold\b/m, '-e A="x ;y": a comment says it cannot be written');
like($out, qr/^; B: a value a config file cannot hold\b/m, '-e B=" lead": too');
like($out, qr/^C = fine;too$/m, 'a ";" after no blank is written as is');

# Bad file: exit 2, the error, nothing on stdout.
my $bad = write_file("$TMPDIR/bad.conf", "[clusterd]\nworkers = x\n"
    . "[program]\ncommand = sleep 1\n");
($code, $out, $err) = run_clusterd(args => ['--check', '-c', $bad]);
is($code, 2, '--check on a bad file: exit 2');
like($err, qr/bad\.conf:2: bad number "x"/, 'the error');
is($out, '', 'no settings printed');

($code, $out, $err) = run_clusterd(args => ['--check', '-n', 'x', '--',
    'sleep', '1']);
is($code, 2, '--check with a bad option: exit 2');

done_testing();
