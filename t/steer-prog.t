# The reuseport steering program on its own (t/steer-prog.c, built by make
# check): for groups of 1 to 100000 sockets and any live pattern it fits
# classic BPF's 4096 instructions, the kernel takes it, and it sends each
# connection to a live socket, all of them evenly; its size and build time
# for 1000, 3000 and 10000 sockets are printed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Clusterd;

my $prog = "$TOP_BUILDDIR/t/steer-prog";
if (!-x $prog) {
	print "1..0 # SKIP $prog is not built (make check builds it)\n";
	exit 0;
}
exec { $prog } $prog or die "$prog: $!\n";
