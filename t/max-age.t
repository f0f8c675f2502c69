# Staggered recycling by age (issue 15: max_age, max_age_jitter). 4 workers,
# max_age 20s +-20%, two minutes under a connection-per-request load, in one
# clusterd run: every worker is recycled ("max_age 20s reached" logged for
# each), one at a time through the surge path (never fewer than 4 ready),
# no two recycles begin closer than the documented spacing max(1s, max_age /
# (2 x workers)) = 2.5 s, none fails a request; status --json gives each
# worker's recycle_at, in the future when it starts and within started +
# 16..24 s (when it comes due: past while the spacing holds it back). A
# rolling restart (clusterctl restart) started while a worker's age limit
# falls due: no age recycle begins while it runs.
#
# Each answer takes 20 ms (HELLO_DELAY_MS), so every recycle stops a worker
# with requests in flight, at a load a make check can afford.
#
# ready = 1s makes the rollout last 4 s or more (one slot at a time, each
# replacement alive 1 s before it counts as ready), so an age limit can fall
# due in the middle of it; it makes each recycle's surge last 1 s too, less
# than the spacing, so it hides no overlap.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Clusterd;

my $N = 4;
my $AGE = 20;
my ($LO, $HI) = ($AGE * 0.8, $AGE * 1.2);
my $SPACING = $AGE / (2 * $N) > 1 ? $AGE / (2 * $N) : 1;	# 2.5 s
my $RUN = 120;		# seconds under load
my $ROLLOUT_AFTER = 50;	# the rollout: once the first round of recycles is done

my $port = free_port();
my $ctl = "$TMPDIR/ma.sock";
my $conf = write_file("$TMPDIR/ma.conf", <<"EOF");
[clusterd]
workers = $N
control = $ctl
max_age = ${AGE}s
max_age_jitter = 20%
[socket:http]
listen = 127.0.0.1:$port
[program]
command = $HELLO
ready = 1s
[env]
HELLO_DELAY_MS = 20
EOF
my $c = start_clusterd(args => ['-c', $conf]);
my $st0 = wait_settled($ctl, $N, 1, 10);
ok($st0, "$N workers ready") or BAIL_OUT('no cluster');
my $t0 = time();

# recycle_at at the start: in the future, within started + 16..24 s, and
# drawn for each worker (not one value for all).
my @first = map { [$_->{id}, $_->{started}, $_->{recycle_at}] } @{ $st0->{workers} };
ok(!grep({ !defined $_->[2] || $_->[2] <= time() } @first),
    'status --json: every recycle_at is set and in the future');
ok(!grep({ $_->[2] < $_->[1] + $LO - 0.01 || $_->[2] > $_->[1] + $HI + 0.01 } @first),
    "status --json: every recycle_at is within started + $LO..$HI s")
    or diag(join("\n", map { sprintf('worker %d: started %.3f, recycle_at %s (+%s)', $_->[0],
	$_->[1], $_->[2] // 'null', defined $_->[2] ? sprintf('%.2f', $_->[2] - $_->[1]) : '-') } @first));

my @loads = map { start_load($port, max => $RUN + 30) } 1 .. 2;
ok(wait_load($loads[0], 10), 'the load runs');

# Every 250 ms: status, each worker's started and recycle_at by pid.
my (%started, %first_at, %first_seen, @viol, @ready_low, @past);
my $samples = 0;
my $min_ready = $N;
sub take {
	my $st = ctl_status($ctl) or return undef;
	my $now = time();
	$samples++;
	my $ready = $st->{workers_ready} // 0;
	if ($ready < $N) {
		$min_ready = $ready;
		push(@ready_low, sprintf('+%.1fs: %d ready', $now - $t0, $ready)) if @ready_low < 10;
	}
	for my $w (@{ $st->{workers} // [] }) {
		my $pid = $w->{pid} // next;
		$started{$pid} //= $w->{started};
		my $at = $w->{recycle_at};
		next unless ($w->{state} // '') eq 'ready';
		if (!defined $at) {
			push(@viol, sprintf('+%.1fs: worker %d (pid %d): recycle_at null', $now - $t0,
			    $w->{id}, $pid)) if @viol < 20;
			next;
		}
		unless (defined $first_at{$pid}) {
			$first_at{$pid} = $at;
			$first_seen{$pid} = $now;
		}
		push(@viol, sprintf('+%.1fs: worker %d (pid %d): recycle_at %.2f s after started, '
		    . 'first seen %.2f', $now - $t0, $w->{id}, $pid, $at - $w->{started},
		    $first_at{$pid} - $w->{started}))
		    if @viol < 20 && ($at < $first_at{$pid} - 0.01);
		# A ready worker whose recycle_at is well past: being replaced (the
		# old one stays ready until its successor is), or waiting (for the
		# spacing, or a rollout) while status no longer says when.
		push(@past, [$now, $pid, sprintf('+%.1fs: worker %d (pid %d): recycle_at %.2f s ago',
		    $now - $t0, $w->{id}, $pid, $now - $at)]) if $at < $now - 0.5;
	}
	return $st;
}

# The log lines of age recycles: [worker, pid, age, offset in the log].
sub recycles {
	my $log = log_text($c);
	my @r;
	while ($log =~ /^clusterd: worker (\d+) \(pid (\d+)\): max_age (\S+) reached \(age ([\d.]+)s\): recycling it$/mg) {
		push(@r, { id => $1, pid => $2, max => $3, age => $4, at => $-[0] });
	}
	return @r;
}

# Sample until $secs after $t0, or until $until->(status) holds.
sub run_until {
	my ($secs, $until) = @_;
	while (time() < $t0 + $secs) {
		my $t = time();
		my $st = take();
		return $st if $st && $until && $until->($st);
		my $left = 0.25 - (time() - $t);
		sleep($left) if $left > 0;
	}
	return undef;
}

# The first round of recycles, then the rollout: started when no recycle
# is in progress (N workers, all ready) and a worker other than slot 0 (the
# rollout replaces slot 0 first) falls due in 0.3..1.2 s.
run_until($ROLLOUT_AFTER);
my $due;
my $st = run_until($RUN - 20, sub {
	my ($st) = @_;
	my @w = @{ $st->{workers} // [] };
	return 0 unless @w == $N && !grep { ($_->{state} // '') ne 'ready' } @w;
	($due) = grep { $_->{id} > 0 && defined $_->{recycle_at}
	    && $_->{recycle_at} - time() >= 0.3 && $_->{recycle_at} - time() <= 1.2 } @w;
	return $due;
});
ok($st && $due, 'a moment for the rollout: a worker falls due within 1.2 s, no recycle running');
my $mark = length(log_text($c));
my $t_roll = time();
my $h = spawn_clusterctl(args => ['-s', $ctl, 'restart']);
my $rollout_done;
run_until($RUN, sub {
	$rollout_done //= substr(log_text($c), $mark) =~ /^clusterd: rolling restart to generation 2 done$/m
	    ? 1 : undef;
	return $rollout_done;
});
my $t_rolled = time();
my ($code, $out, $err) = finish_clusterctl($h, 30);
is($code, 0, 'clusterctl restart: exit 0') or diag($out, $err);
my $log = log_text($c);
my $rb = index($log, 'clusterd: rolling restart to generation 2 (');
my $re = index($log, 'clusterd: rolling restart to generation 2 done');
ok($rb >= 0 && $re > $rb, 'the rollout ran (begun and done in the log)');
my @during = grep { $_->{at} > $rb && $_->{at} < $re } recycles();
is(scalar(@during), 0, 'no age recycle began during the rollout')
    or diag(substr($log, $rb, $re - $rb));
if ($due) {
	my $exit = $log =~ /^clusterd: worker \d+ \(pid $due->{pid}\) (?:exited|killed)/m ? $-[0] : -1;
	ok($exit > $rb, sprintf('the worker that fell due (slot %d, pid %d) was still there '
	    . 'when the rollout began', $due->{id}, $due->{pid}));
}

# The rest of the two minutes.
run_until($RUN);
my $r = stop_loads(@loads);
my $t_end = time();
take();
$log = log_text($c);
my @rec = recycles();
diag(sprintf('%d age recycles in %.0f s, %d status samples', scalar(@rec), $t_end - $t0, $samples));

# Every line in the spec's form, followed by its replacement line.
ok(@rec >= 2 * $N, scalar(@rec) . " age recycles (>= 2 per worker in $RUN s)");
is(scalar(grep { $_->{max} ne "${AGE}s" } @rec), 0, "each says max_age ${AGE}s");
my @no_repl;
for my $i (0 .. $#rec) {
	my $x = $rec[$i];
	my $next = $i < $#rec ? $rec[$i + 1]{at} : length($log);
	my $seg = substr($log, $x->{at}, $next - $x->{at});
	push(@no_repl, "worker $x->{id} (pid $x->{pid})") unless $seg =~
	    /^clusterd: worker $x->{id} \(pid $x->{pid}\): starting its replacement \(max_age ${AGE}s reached\)$/m;
}
is(scalar(@no_repl), 0, 'each recycle: "starting its replacement (max_age 20s reached)" before the next recycle')
    or diag(join("\n", @no_repl));

# Every worker: the first four, and every slot.
my @firstpids = map { $_->{pid} } @{ $st0->{workers} };
my %recycled = map { ($_->{pid} => 1) } @rec;
is(scalar(grep { !$recycled{$_} } @firstpids), 0, 'each of the first 4 workers was recycled by age');
my %slots = map { ($_->{id} => 1) } @rec;
is(join(',', sort keys %slots), join(',', 0 .. $N - 1), 'every slot had an age recycle');

# One at a time: the old worker is gone before the next recycle begins.
my @overlap;
for my $i (0 .. $#rec - 1) {
	my $x = $rec[$i];
	my $seg = substr($log, $x->{at}, $rec[$i + 1]{at} - $x->{at});
	push(@overlap, "worker $x->{id} (pid $x->{pid}) still there when worker "
	    . "$rec[$i + 1]{id} (pid $rec[$i + 1]{pid}) began") unless $seg =~
	    /^clusterd: worker $x->{id} \(pid $x->{pid}\) (?:exited|killed)/m;
}
is(scalar(@overlap), 0, 'never two at once: each old worker exits before the next recycle begins')
    or diag(join("\n", @overlap));
ok($min_ready >= $N, "never fewer than $N ready (surge)") or diag(join("\n", @ready_low));

# The spacing: a recycle begins at its worker's start + its logged age. The
# ages are logged to 0.1 s, so a gap is known to +-0.1 s; started is status
# --json's, to the ms, stamped a little after the clock the age counts from
# starts: 0.15 s of slack in all (a spacing of 2.35 s would still pass, one
# of 1 s, the floor, would not).
my @begin;
for my $x (@rec) {
	next unless defined $started{$x->{pid}};
	push(@begin, [$started{$x->{pid}} + $x->{age}, $x]);
}
is(scalar(@begin), scalar(@rec), 'every recycled worker was seen in status (its started)');
@begin = sort { $a->[0] <=> $b->[0] } @begin;
my @gaps = map { $begin[$_][0] - $begin[$_ - 1][0] } 1 .. $#begin;
my ($closest) = sort { $a <=> $b } @gaps;
ok(defined $closest && $closest >= $SPACING - 0.15, sprintf('no two recycles begin closer than '
    . '%.1f s (closest %.2f s, +-0.1 s of logged ages)', $SPACING, $closest // -1))
    or diag(join("\n", map { sprintf('%.2f worker %d (pid %d) age %s', $_->[0] - $t0,
	$_->[1]{id}, $_->[1]{pid}, $_->[1]{age}) } @begin));

# Ages: never before the worker's own limit (its recycle_at), never under
# 16 s; late only by the spacing (at most the other 3 ahead of it).
my @early;
for my $x (@rec) {
	my $lim = defined $first_at{$x->{pid}} && defined $started{$x->{pid}}
	    ? $first_at{$x->{pid}} - $started{$x->{pid}} : $LO;
	push(@early, sprintf('worker %d (pid %d): age %s, its limit %.2f', $x->{id}, $x->{pid},
	    $x->{age}, $lim)) if $x->{age} < $lim - 0.1 || $x->{age} < $LO - 0.05
	    || $x->{age} > $HI + ($N - 1) * $SPACING + 1;
}
diag('recycles, +s from the start: worker (pid): age, its drawn limit: ' . join('; ', map {
    my $x = $_->[1];
    sprintf('+%.1f %d (%d): %s, %s', $_->[0] - $t0, $x->{id}, $x->{pid}, $x->{age},
	defined $first_at{$x->{pid}} ? sprintf('%.1f', $first_at{$x->{pid}} - $started{$x->{pid}}) : '?')
    } @begin));
is(scalar(@early), 0, "each recycled at its own age limit (its recycle_at, $LO..$HI s), "
    . 'late by the spacing at most') or diag(join("\n", @early));
is(scalar(@viol), 0, 'status --json: recycle_at of every ready worker set, never moved earlier')
    or diag(join("\n", @viol));
my @draws = map { $first_at{$_} - $started{$_} } grep { defined $started{$_} } keys %first_at;
my @bad = grep { $_ < $LO - 0.01 || $_ > $HI + 0.01 } @draws;
is(scalar(@bad), 0, sprintf('status --json: recycle_at - started within %d..%d s for all %d workers seen',
    $LO, $HI, scalar(@draws))) or diag("@bad");
my @sorted = sort { $a <=> $b } @draws;
ok(@sorted >= 2 * $N && $sorted[-1] - $sorted[0] > 1, sprintf('the jitter draws differ '
    . '(%.1f..%.1f s)', $sorted[0] // 0, $sorted[-1] // 0));
# recycle_at is when the worker comes due (clusterctl(8): "its replacement
# may wait for the spacing"): past only while another recycle began less
# than the spacing ago, or a rollout runs. A due worker that waits longer
# is not replaced as soon as the spacing allows.
my %begin_of = map { ($_->[1]{pid} => $_->[0]) } @begin;
my @past_out = map { $_->[2] } grep {
    my ($now, $pid) = @$_;
    ($now < $t_roll || $now > $t_rolled + 0.5)
    && !(defined $begin_of{$pid} && $begin_of{$pid} <= $now + 0.1)
    && !grep { $_->[0] <= $now + 0.1 && $_->[0] >= $now - $SPACING - 0.3 } @begin } @past;
diag(scalar(@past) . ' samples of a ready worker with recycle_at over 0.5 s past (being '
    . 'replaced, waiting for the spacing or the rollout)');
is(scalar(@past_out), 0, 'status --json: a worker whose recycle_at is past waits only for the '
    . 'spacing (a recycle begun less than 2.5 s before) or the rollout') or diag(join("\n", @past_out[0 .. ($#past_out < 19 ? $#past_out : 19)]));
my $late = 0;
for my $pid (keys %first_seen) {
	$late++ if $first_at{$pid} <= $first_seen{$pid};
}
is($late, 0, 'status --json: recycle_at in the future when first seen, for every worker');

is($r->{failed}, 0, "0 failed requests out of " . ($r->{ok} + $r->{failed}))
    or diag(join("\n", @{ $r->{errors} }));
ok($r->{ok} > 2 * $RUN * 10, "the load ran throughout ($r->{ok} answers)");
unlike($log, qr/killed by signal|exited with status [1-9]/, 'no worker died other than by a clean stop');
stop_ok($c, 'max_age');

done_testing();
