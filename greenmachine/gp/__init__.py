"""Genetic programming over cached statistics: primitives, primitive set, evaluation, fitness, search."""

from greenmachine.gp.config import GPConfig
from greenmachine.gp.evaluate import Program, ProgramInputs, bind, compile_program
from greenmachine.gp.evolve import Callback, GenerationRecord, SearchResult, SearchState, evolve
from greenmachine.gp.checkpoint import Checkpoint
from greenmachine.gp.fitness import FITNESSES, WORST_FITNESS, Fitness, Task
from greenmachine.gp.hall_of_fame import HallOfFame, HallOfFameEntry, strip_wrappers
from greenmachine.gp.pareto import ParetoEntry, pareto_front
from greenmachine.gp.primitives import PRIMITIVES, LayerMask
from greenmachine.gp.pset import Individual, build_pset, parse_tree
from greenmachine.gp.render import terminals_of, to_math, to_python

__all__ = ["FITNESSES", "PRIMITIVES", "WORST_FITNESS", "Callback", "Checkpoint", "Fitness", "GPConfig",
           "GenerationRecord", "HallOfFame", "HallOfFameEntry", "Individual", "LayerMask", "ParetoEntry", "Program",
           "ProgramInputs", "SearchResult", "SearchState", "Task", "bind", "build_pset", "compile_program", "evolve",
           "pareto_front", "parse_tree", "strip_wrappers", "terminals_of", "to_math", "to_python"]
