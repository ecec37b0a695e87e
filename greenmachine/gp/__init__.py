"""Genetic programming over cached statistics: primitives, primitive set, evaluation, fitness, search."""

from greenmachine.gp.config import GPConfig
from greenmachine.gp.evaluate import Program, ProgramInputs, bind, compile_program
from greenmachine.gp.evolve import GenerationRecord, SearchResult, evolve
from greenmachine.gp.fitness import FITNESSES, WORST_FITNESS, Fitness, Task
from greenmachine.gp.hall_of_fame import HallOfFame, HallOfFameEntry, strip_wrappers
from greenmachine.gp.primitives import PRIMITIVES, LayerMask
from greenmachine.gp.pset import Individual, build_pset, parse_tree
from greenmachine.gp.render import terminals_of, to_math, to_python

__all__ = ["FITNESSES", "PRIMITIVES", "WORST_FITNESS", "Fitness", "GPConfig", "GenerationRecord", "HallOfFame",
           "HallOfFameEntry", "Individual", "LayerMask", "Program", "ProgramInputs", "SearchResult", "Task", "bind",
           "build_pset", "compile_program", "evolve", "parse_tree", "strip_wrappers", "terminals_of", "to_math",
           "to_python"]
