# The command is looked up through the worker's PATH ([env] PATH, -e
# PATH), not clusterd's own, with execvp's rules (issue 11 §4): a command
# only the worker's PATH has runs; one only clusterd's PATH has is "not
# found" (exit 127 at start-up); a file that is there but not executable
# is skipped, and the answer is EACCES (126) when nothing else is found;
# a relative entry is taken from the worker's directory; a script without
# #! is run by /bin/sh.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

sub script {
	my ($path, $text, $mode) = @_;
	write_file($path, $text);
	chmod($mode // 0755, $path) or die "chmod $path: $!";
	return $path;
}

for my $d (qw(wbin cbin ebin wd wd/rel)) {
	mkdir("$TMPDIR/$d") or die "mkdir $TMPDIR/$d: $!";
}
script("$TMPDIR/wbin/only-worker", "#!/bin/sh\nexec sleep 1000\n");
script("$TMPDIR/cbin/only-clusterd", "#!/bin/sh\nexec sleep 1000\n");
script("$TMPDIR/ebin/only-worker", "#!/bin/sh\nexit 3\n", 0644);
script("$TMPDIR/ebin/not-exec", "#!/bin/sh\nexit 3\n", 0644);
script("$TMPDIR/wd/rel/relative", "#!/bin/sh\nexec sleep 1000\n");
script("$TMPDIR/wbin/no-hashbang", "exec sleep 1000\n");
my $sys = '/usr/bin:/bin';
# clusterd's own PATH: cbin, never wbin.
my %env = (PATH => "$TMPDIR/cbin:$sys");

# Start with a config; returns the clusterd and its workers once running.
sub runs {
	my ($name, $conf, @args) = @_;
	my $file = write_file("$TMPDIR/$name.conf", $conf);
	my $c = start_clusterd(args => ['-c', $file, '-l', 'none', @args], env => \%env);
	my @w = wait_workers($c->pid, 2, 10, 'sleep');
	is(scalar(@w), 2, "$name: both workers run");
	unlike(log_text($c), qr/cannot run/, "$name: no exec failure");
	kill('TERM', $c->pid);
	is(wait_exit($c, 10), 0, "$name: stops cleanly");
}

runs('env-path', <<"END");
[clusterd]
workers = 2
[program]
command = only-worker
[env]
PATH = $TMPDIR/wbin:$sys
END

runs('dash-e-path', <<"END", '-e', "PATH=$TMPDIR/wbin:$sys");
[clusterd]
workers = 2
[program]
command = only-worker
END

# Not executable in the first entry: skipped, the next one runs.
runs('eacces-then-found', <<"END");
[clusterd]
workers = 2
[program]
command = only-worker
[env]
PATH = $TMPDIR/ebin:$TMPDIR/wbin:$sys
END

runs('relative-entry', <<"END");
[clusterd]
workers = 2
[program]
command = relative
directory = $TMPDIR/wd
[env]
PATH = rel:$sys
END

runs('no-hashbang', <<"END");
[clusterd]
workers = 2
[program]
command = no-hashbang
[env]
PATH = $TMPDIR/wbin:$sys
END

# Fails at start-up, as §4 says, with execvp's answer.
sub fails {
	my ($name, $conf, $want_code, $want_msg) = @_;
	my $file = write_file("$TMPDIR/$name.conf", $conf);
	my ($code, $out, $err) = run_clusterd(args => ['-c', $file, '-l', 'none'],
	    env => \%env, timeout => 10);
	is($code, $want_code, "$name: exit $want_code");
	like($err, qr/^clusterd: cannot run \Q$want_msg\E$/m, "$name: $want_msg");
}

fails('only-clusterd-path', <<"END", 127, 'only-clusterd: No such file or directory');
[clusterd]
workers = 2
[program]
command = only-clusterd
[env]
PATH = $TMPDIR/wbin:$sys
END

fails('only-not-executable', <<"END", 126, 'not-exec: Permission denied');
[clusterd]
workers = 2
[program]
command = not-exec
[env]
PATH = $TMPDIR/ebin:$sys
END

done_testing();
