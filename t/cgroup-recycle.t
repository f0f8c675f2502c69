# Recycling (memory_high) and rolling restarts together (issue 13): a
# rollout that starts while a worker is being recycled takes that replace
# over, so every slot ends on the new generation; a rollback in the middle
# of a recycle leaves recycling working. Slot 0's worker leaks 8 MB a
# request; ready = 2s keeps each replacement starting long enough for the
# reload to come in between.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my $LEAK = "$TOP_SRCDIR/t/bin/leak-worker";
my $n = 0;

sub conf {
	my ($t, %o) = @_;
	write_file($t->{conf}, <<"EOF2");
[clusterd]
workers = 2
name = $t->{name}
control = $t->{ctl}
cgroups = yes
[socket:http]
listen = 127.0.0.1:$t->{port}
[program]
command = $o{command}
ready = 2s
ready_timeout = 20s
memory_high = 40M
memory_max = 400M
[env]
ROUND = $o{round}
EOF2
}

sub setup {
	my $k = ++$n;
	my $t = { name => "t-cgr-$$-$k", port => free_port(), ctl => "$TMPDIR/cgr$k.sock",
	    conf => "$TMPDIR/cgr$k.conf" };
	conf($t, command => "/usr/bin/perl $LEAK 8 --leak-slot 0", round => 1);
	return $t;
}

# Requests until slot 0's worker is being recycled: its replacement has
# started (and, with ready = 2s, is not ready yet).
sub recycle_starts {
	my ($c, $t, $mark) = @_;
	return wait_for(sub {
		http_get('127.0.0.1', $t->{port}, '/', 2);
		substr(log_text($c), $mark) =~ /^clusterd: worker 0 \(pid \d+\): starting its replacement/m;
	}, 30, 'a recycle of worker 0 to start');
}

# Does clusterd take memory_high here? Else say why and skip.
{
	my $t = setup();
	my $c = start_clusterd(args => ['-c', $t->{conf}]);
	my ($first) = $c->wait_log(qr/^clusterd: (2 workers ready|.*needs .*|cgroups = yes, but .*)$/m, 15);
	if (!defined $first || $first ne '2 workers ready') {
		wait_exit($c, 10);
		plan skip_all => "no memory_high here: " . ($first // 'clusterd did not start');
	}

	# (a) A rollout while worker 0 is being recycled.
	ok(recycle_starts($c, $t, 0), '(a) worker 0 crossed memory_high: its replacement starts');
	conf($t, command => "/usr/bin/perl $LEAK 8 --leak-slot 0", round => 2);
	my ($code, $out, $err) = clusterctl($t->{ctl}, 'reload');
	is($code, 0, '(a) reload during the recycle: the rolling restart is done') or diag($out, $err);
	ok(wait_settled($t->{ctl}, 2, 2, 20),
	    '(a) every slot ends on generation 2, slot 0 included') or diag(log_text($c));

	# (b) A rollback while worker 0 is being recycled; then recycling still works.
	my $mark = length(log_text($c));
	ok(recycle_starts($c, $t, $mark), '(b) worker 0 crossed memory_high again: its replacement starts');
	conf($t, command => '/bin/sh -c "exit 3"', round => 3);
	($code, $out, $err) = clusterctl($t->{ctl}, 'reload');
	is($code, 1, '(b) reload to a program that exits: rolled back') or diag($out, $err);
	like($out . $err, qr/rolled back/, '(b) clusterctl says it rolled back');
	ok(wait_settled($t->{ctl}, 2, undef, 20), '(b) 2 of 2 ready again');
	$mark = length(log_text($c));
	ok(recycle_starts($c, $t, $mark), '(b) after the rollback, a worker that crosses is recycled again')
	    or diag(substr(log_text($c), $mark));
	ok(wait_settled($t->{ctl}, 2, undef, 20), '(b) and its replacement gets ready');
	kill TERM => $c->pid;
	is(wait_exit($c, 20), 0, 'SIGTERM: exit 0');
}

done_testing();
