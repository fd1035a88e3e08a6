// carbonsweep: see cli/command.h for the command table.
#include "cli/command.h"

int main(int argc, char** argv) { return cs::CarbonsweepMain(argc, argv); }
