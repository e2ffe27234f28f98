#!/usr/bin/env perl
# Layers call downward: after `make`, reads the symbols of src/*.o (nm),
# draws an arrow from each file to every other file whose functions it
# calls, and fails if any file reaches itself through those arrows (a
# circle), naming the files and the functions that tie them.
use strict;
use warnings;

my (%defined_in, %uses);
for my $o (glob "src/*.o") {
    (my $f = $o) =~ s{^src/(.*)\.o$}{$1.c};
    $uses{$f} = {};
    for (`nm $o`) {
        my @p = split;
        if (@p == 3 && $p[1] =~ /^[TDBR]$/) { $defined_in{$p[2]} = $f }
        elsif (@p == 2 && $p[0] eq 'U') { $uses{$f}{$p[1]} = 1 }
    }
}
die "layers: no src/*.o; run make first\n" unless %uses;

my %arrow;    # $arrow{a}{b} = [names]
for my $f (keys %uses) {
    for my $sym (keys %{ $uses{$f} }) {
        my $g = $defined_in{$sym};
        push @{ $arrow{$f}{$g} }, $sym if $g && $g ne $f;
    }
}

# Find a circle by depth-first search (colours: 1 on the path, 2 done).
my (%colour, @path, $found);
sub visit {
    my ($f) = @_;
    $colour{$f} = 1;
    push @path, $f;
    for my $g (sort keys %{ $arrow{$f} || {} }) {
        return if $found;
        if (($colour{$g} // 0) == 1) {
            my @c = @path;
            shift @c while $c[0] ne $g;
            $found = [@c, $g];
            return;
        }
        visit($g) unless $colour{$g};
    }
    pop @path;
    $colour{$f} = 2;
}
for my $f (sort keys %uses) { visit($f) unless $colour{$f} || $found }

if ($found) {
    print "layers: a circle among src/ files:\n";
    for my $i (0 .. $#$found - 1) {
        my ($a, $b) = ($found->[$i], $found->[$i + 1]);
        printf "  %s -> %s: %s\n", $a, $b, join(", ", sort @{ $arrow{$a}{$b} });
    }
    exit 1;
}
printf "layers: no circle among %d files of src/\n", scalar keys %uses;
