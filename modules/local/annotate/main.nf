// One liver cell type per cluster (liverannot annotate).
process LIVERANNOT_ANNOTATE {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    tuple val(meta), path(h5ad)

    output:
    tuple val(meta), path("*.annotated.h5ad")         , emit: h5ad
    tuple val(meta), path("*.cluster_annotation.csv"), emit: clusters
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    liverannot annotate \
        --input ${h5ad} \
        --output ${prefix}.annotated.h5ad \
        --table ${prefix}.cluster_annotation.csv \
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.annotated.h5ad
    touch ${prefix}.cluster_annotation.csv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """
}
