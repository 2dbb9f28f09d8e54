# `cmake --install BUILD --prefix P` lays gwflow out as HPC software (README "Installing on a
# cluster"):
#   P/bin/gwflow                      the executable
#   P/bin/gwflow-mpirun               tools/mpirun: mpirun that turns SIGTERM/SIGINT into a saving stop
#   P/share/gwflow/jobs/              pipeline, train.sbatch, sample.sbatch (they find P/bin/gwflow)
#   P/share/gwflow/inputs/            the example configs
#   P/share/gwflow/tools/             plot_history.py, plot_corner.py
#   P/share/doc/gwflow/               README.md, CHANGELOG.md, LICENSE, CITATION.cff
include(GNUInstallDirs)

# The installed binary keeps the run paths of libraries outside the system folders (a pip-installed
# LibTorch, a module's MPI or HDF5), so it starts without LD_LIBRARY_PATH wherever it is moved.
set_target_properties(gwflow PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)

install(TARGETS gwflow RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS jobs/pipeline jobs/train.sbatch jobs/sample.sbatch DESTINATION ${CMAKE_INSTALL_DATADIR}/gwflow/jobs)
install(FILES inputs/seed_tutorial.toml inputs/regression_3d.toml DESTINATION ${CMAKE_INSTALL_DATADIR}/gwflow/inputs)
install(PROGRAMS tools/mpirun DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME gwflow-mpirun)
install(PROGRAMS tools/plot_history.py tools/plot_corner.py DESTINATION ${CMAKE_INSTALL_DATADIR}/gwflow/tools)
install(FILES README.md CHANGELOG.md LICENSE CITATION.cff DESTINATION ${CMAKE_INSTALL_DOCDIR})
