# The libFuzzer targets (fuzz/fuzz.mk) replay, in make check, every input
# that once crashed them (fuzz/regress/TARGET/, one test each) and their
# seed corpus (fuzz/corpus/TARGET/), each file run once: the same inputs
# every time, so a failure here is a regression of this commit, never the
# luck of a random search. Fuzzing for time is `make fuzz`'s job. Skipped,
# saying why, where clang cannot build a libFuzzer program.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Clusterd;

my @TARGETS = qw(config addr notify values control);
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

# Run $bin on @files, each once (libFuzzer runs the files it is given and
# fuzzes nothing); true if every one ran clean.
sub replay {
	my ($bin, @files) = @_;
	my $q = join(' ', map { "'$_'" } @files);
	my $out = `'$bin' -timeout=${\ int(timeout(30))} -rss_limit_mb=2048 -artifact_prefix='$TMPDIR/' $q 2>&1`;
	my $ok = $? == 0;
	my $ran = () = $out =~ /^Executed \S+ in \d+ ms$/mg;
	return ($ok && $ran == @files, $out, $ran);
}

for my $t (@TARGETS) {
	my $bin = "$TOP_BUILDDIR/fuzz/fuzz-$t";
	ok(-x $bin, "fuzz-$t is built") or next;

	# Every input that once crashed it: one test each.
	for my $f (sort glob("$TOP_SRCDIR/fuzz/regress/$t/*")) {
		next unless -f $f;
		(my $name = $f) =~ s{.*/fuzz/}{fuzz/};
		my ($ok, $out) = replay($bin, $f);
		ok($ok, "fuzz-$t: $name runs clean") or diag(crash_report($out));
	}

	# The seed corpus, file by file.
	my @seeds = grep { -f } sort glob("$TOP_SRCDIR/fuzz/corpus/$t/*");
	ok(@seeds, "fuzz-$t: a seed corpus") or next;
	my ($ok, $out, $ran) = replay($bin, @seeds);
	ok($ok, "fuzz-$t: the seed corpus runs clean ($ran of " . @seeds . ' inputs)')
	    or diag(crash_report($out));
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
