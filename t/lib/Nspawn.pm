# What t/systemd.t and t/package.t share about a Debian root booted with
# systemd-nspawn: waiting for its systemd to boot, and finding its
# processes from the host.
package Nspawn;
use strict;
use warnings;
use Exporter 'import';
use POSIX qw(WNOHANG);
use Clusterd qw(wait_for proc_stat slurp);

our @EXPORT = qw(nspawn_boot nspawn_procs);

# Wait up to $secs for the container's PID 1 (systemd-nspawn's child named
# systemd) to say it runs: $state->() gives `systemctl is-system-running`'s
# output there (degraded is booted too: some unit of the host's /usr may
# fail, which is not ours to judge). $nspawn and $leader are references to
# the caller's pids: $leader is set once found, $nspawn undef once
# systemd-nspawn exited. Returns (booted, exited).
sub nspawn_boot {
	my ($nspawn, $leader, $state, $secs) = @_;
	my ($booted, $exited);
	wait_for(sub {
		if (waitpid($$nspawn, WNOHANG) != 0) {
			($exited, $$nspawn) = (1, undef);
			return 1;
		}
		($$leader) = grep { ((proc_stat($_) // {})->{comm} // '') eq 'systemd' }
		    map { split(' ', slurp($_) // '') } glob("/proc/$$nspawn/task/*/children")
		    unless $$leader;
		return 0 unless $$leader;
		return $booted = ($state->() // '') =~ /^(running|degraded)$/m;
	}, $secs, 'systemd to boot in the container');
	return ($booted, $exited);
}

# The processes under $leader (the container's PID 1), by host pid, whose
# name matches $re.
sub nspawn_procs {
	my ($leader, $re) = @_;
	my (%kids, @found);
	for my $dir (glob('/proc/[0-9]*')) {
		my ($p) = $dir =~ /(\d+)$/;
		my $st = proc_stat($p) or next;
		push(@{ $kids{$st->{ppid}} }, [$p, $st->{comm}]);
	}
	my @todo = ($leader);
	while (defined(my $p = shift @todo)) {
		for my $k (@{ $kids{$p} // [] }) {
			push(@todo, $k->[0]);
			push(@found, $k->[0]) if $k->[1] =~ $re;
		}
	}
	return @found;
}

1;
