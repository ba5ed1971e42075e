"""The worker side of a wait: the drivers of the look policy and how a task ends once it knows the outcome.

One look at a job (:mod:`.check`), the wait on a worker and the trigger it defers to (:mod:`.wait`), the
retried AWS call (:mod:`.retry`), the job a create task attaches to (:mod:`.choice`) and the task's ending,
XCom first (:mod:`.completion`). Sensors and operators build on these modules.
"""
