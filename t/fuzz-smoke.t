# A short run of the libFuzzer targets (fuzz/fuzz.mk; `make fuzz` runs
# them longer): each one replays every input that once crashed it
# (fuzz/regress/TARGET/, one test each), then its seed corpus, then fuzzes
# for FUZZ_SMOKE_SECONDS (10) seconds. Skipped, saying why, where clang
# cannot build a libFuzzer program.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;
use File::Copy qw(copy);
use File::Path qw(make_path);

my @TARGETS = qw(config addr notify values control);
my $SECONDS = $ENV{FUZZ_SMOKE_SECONDS} // 10;
my $CC = $ENV{FUZZ_CC} // 'clang';
my $MAKE = $ENV{MAKE} // 'make';

# Can clang build and run a libFuzzer program here?
my $probe = write_file("$TMPDIR/probe.c", <<'END');
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
END
my $why = `$CC -fsanitize=fuzzer,address,undefined -o $TMPDIR/probe $probe 2>&1`;
plan(skip_all => "$CC cannot build a libFuzzer program: "
    . (($why // '') =~ /(\S.*)/ ? $1 : "exit status $?")) if $? != 0;
plan(skip_all => 'a libFuzzer program does not run here')
    if system("$TMPDIR/probe -runs=1 >/dev/null 2>&1") != 0;
plan(skip_all => "$TOP_SRCDIR/fuzz/fuzz.mk is not there")
    unless -f "$TOP_SRCDIR/fuzz/fuzz.mk";

# Build the harnesses the way `make fuzz` does (into the build tree), with
# no jobserver or options of the make running this test.
{
	local $ENV{MAKEFLAGS} = '';
	local $ENV{MFLAGS} = '';
	local $ENV{MAKELEVEL} = '';
	my $n = `$MAKE -n -C '$TOP_BUILDDIR' fuzz-build 2>&1`;
	plan(skip_all => "the Makefile has no fuzz-build target (include fuzz/fuzz.mk)")
	    if $? != 0 && $n =~ /No rule to make target/;
	my $out = `$MAKE -s -C '$TOP_BUILDDIR' fuzz-build FUZZ_CC='$CC' 2>&1`;
	my $ok = $? == 0;
	ok($ok, 'make fuzz-build') or diag($out);
	BAIL_OUT('the fuzz targets do not build') unless $ok;
}

for my $t (@TARGETS) {
	my $bin = "$TOP_BUILDDIR/fuzz/fuzz-$t";
	ok(-x $bin, "fuzz-$t is built") or next;
	my $run = "$TMPDIR/$t";
	make_path("$run/work", "$run/artifacts");

	# Every input that once crashed it: one test each.
	for my $f (sort glob("$TOP_SRCDIR/fuzz/regress/$t/*")) {
		next unless -f $f;
		(my $name = $f) =~ s{.*/fuzz/}{fuzz/};
		my $out = `'$bin' -artifact_prefix='$run/artifacts/' '$f' 2>&1`;
		ok($? == 0, "fuzz-$t: $name runs clean") or diag(crash_report($out));
	}

	# The seed corpus as it is, then fuzzing from it.
	my $out = `'$bin' -runs=0 -artifact_prefix='$run/artifacts/' '$TOP_SRCDIR/fuzz/corpus/$t' 2>&1`;
	ok($? == 0, "fuzz-$t: the seed corpus runs clean") or diag(crash_report($out));
	next unless $SECONDS > 0;
	$out = `'$bin' -max_total_time=$SECONDS -timeout=10 -rss_limit_mb=2048 -max_len=8192 -artifact_prefix='$run/artifacts/' '$run/work' '$TOP_SRCDIR/fuzz/corpus/$t' 2>&1`;
	my $status = $?;
	my ($runs) = $out =~ /^Done (\d+) runs/m;
	my ($cov) = $out =~ /DONE\s+cov: (\d+)/;
	if ($status == 0) {
		pass(sprintf("fuzz-$t: %ds clean (%s executions, coverage %s)", $SECONDS,
		    $runs // '?', $cov // '?'));
	} else {
		my @crash = glob("$run/artifacts/*");
		fail("fuzz-$t: ${SECONDS}s of fuzzing");
		diag(crash_report($out));
		for my $f (@crash) {
			my $dest = "$TOP_BUILDDIR/fuzz-$t-" . (split(m{/}, $f))[-1];
			copy($f, $dest);
			diag("the input is saved as $dest: keep it in fuzz/regress/$t/");
		}
	}
}

# What a failed run says: the check that failed or the sanitizer's report.
sub crash_report {
	my ($out) = @_;
	my @l = split(/\n/, $out // '');
	my ($i) = grep { $l[$_] =~ /fuzz check failed|ERROR: |runtime error|SUMMARY/ } 0 .. $#l;
	my ($from, $to) = defined $i ? ($i, $i + 30) : ($#l - 30, $#l);
	$from = 0 if $from < 0;
	$to = $#l if $to > $#l;
	return join("\n", @l[$from .. $to]);
}

done_testing();
